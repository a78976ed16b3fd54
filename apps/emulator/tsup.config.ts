import { defineConfig } from 'tsup'
import { libraryPreset } from '../../tsup.preset.ts'

// Two entries: the library (embedded by the CLI and tests) and the standalone command.
export default defineConfig(
  libraryPreset({ entry: ['src/index.ts', 'src/cli.ts'], splitting: true }),
)
