import { defineConfig } from 'tsup'
import { libraryPreset } from '../../tsup.preset.ts'

// Two entries sharing one chunk: the programmatic API (`runCli`, the file token store) and
// the `tokenkeeper` bin.
export default defineConfig(
  libraryPreset({ entry: ['src/index.ts', 'src/bin.ts'], splitting: true }),
)
