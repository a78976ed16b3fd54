import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Entry, type Figure, RESULTS_DIRECTORY, type Section } from './figures.ts'

/** The file the suite writes. */
export const REPORT_PATH = fileURLToPath(new URL('../../../../RELIABILITY.md', import.meta.url))
const TEST_DIRECTORY = fileURLToPath(new URL('..', import.meta.url))
const DATA_START = '<!-- reliability-data'
const DATA_END = '-->'

interface Column {
  readonly key: string
  readonly label: string
}

interface SectionSpec {
  readonly title: string
  readonly intro: string
  readonly columns: readonly Column[]
}

/** What each section of the report shows. Column goals are in the labels; cells add bounds. */
const SECTIONS: Record<Section, SectionSpec> = {
  soak: {
    title: 'Soak',
    intro: [
      'Every vendor against the emulator over real loopback HTTP for one simulated hour per',
      'clock skew, after five simulated minutes of warm-up. The client and the emulator read one',
      '`ManualClock`; the emulator runs 5 minutes ahead of the client (+5 min) or behind it',
      '(-5 min). The token lifetime changes every 10 minutes through the listed values. Bursts of',
      '1 to 3 concurrent calls (70 % `fetch()`, 30 % `interceptor()`) arrive every 1.5 to 10.5 s;',
      'before each burst, time moves for up to a quarter lifetime without waiting for network I/O,',
      'so a background renewal started there is still in flight when the burst arrives (racing)',
      'and its answer comes back that much later. "Expired tokens sent" is the emulator\'s count',
      'of API requests it refused because the token had expired on its own clock. Memory is',
      'measured after a forced GC (`--expose-gc`) before and after the hour: heap growth is',
      "bounded at 4 MiB (the emulator's own per-token records stay well under 1 MiB; a leak of a",
      'few KiB per call or token request would exceed it), RSS growth at 32 MiB (RSS also moves',
      'with allocator arenas and socket buffers, so it only catches gross leaks).',
    ].join('\n'),
    columns: [
      { key: 'lifetimes', label: 'lifetimes (s)' },
      { key: 'skew', label: 'skew' },
      { key: 'apiCalls', label: 'API calls' },
      { key: 'racing', label: 'bursts racing a renewal' },
      { key: 'tokenRequests', label: 'token requests' },
      { key: 'expired', label: 'expired tokens sent (goal 0)' },
      { key: 'notRecovered', label: 'rejected, not recovered (goal 0)' },
      { key: 'failed', label: 'other failed calls (goal 0)' },
      { key: 'unhandled', label: 'unhandled rejections (goal 0)' },
      { key: 'reused', label: 'refresh tokens reused (goal 0)' },
      { key: 'rssBefore', label: 'RSS before (MiB)' },
      { key: 'rssAfter', label: 'RSS after (MiB, ≤ +32)' },
      { key: 'heapGrowth', label: 'heap growth (MiB, ≤ 4)' },
    ],
  },
  faults: {
    title: 'Fault matrix',
    intro: [
      'For each vendor, the token endpoint misbehaves in one way for 5 simulated minutes, first',
      'while the client holds a valid token (obtained 1 s before, lifetime 60 s), then, with a new',
      'client, before it has any. An API call is made every 5 s of simulated time throughout and',
      'after the endpoint is back. Per cell: API calls that failed while the endpoint misbehaved',
      "(with a valid token, only calls after that token's expiry may fail; the exception is Clear",
      'after a 2xx answer it cannot use: that answer may have been a reissue, which revokes the',
      'current token, so the client stops using it, lifecycle rule 6), token requests the',
      'endpoint received during the outage (the bound follows from the backoff: first retry after',
      '0.5 to 1 s, doubling to at most 60 s, never before `Retry-After`, never sooner than the',
      "source's minimum interval, 5 min for Clear), and the simulated time from the endpoint's",
      'return to the next token issued. Unhandled rejections are counted with a process-level',
      'listener over the whole cell (goal 0). "Slow" holds every request past the client\'s 200 ms',
      'timeout; simulated time does not move while a request is in flight.',
    ].join('\n'),
    columns: [
      { key: 'validFailed', label: 'valid token: failed calls (none while it is valid)' },
      { key: 'validRequests', label: 'valid token: token requests' },
      { key: 'validRecovery', label: 'valid token: recovery (s)' },
      { key: 'noneFailed', label: 'no token: failed calls' },
      { key: 'noneRequests', label: 'no token: token requests' },
      { key: 'noneRecovery', label: 'no token: recovery (s)' },
      { key: 'unhandled', label: 'unhandled rejections (goal 0)' },
    ],
  },
  generated: {
    title: 'Bad input, generated',
    intro: [
      'Property tests (fast-check, fixed seed) over every response parser and settings validator',
      'the packages export. Each generated input must give a token (or a parsed value) or a',
      '`TokenKeeperError` (`TokenKeeperError.is`), never another exception, and finish within',
      "the property's time limit (no hang).",
    ].join('\n'),
    columns: [
      { key: 'runs', label: 'inputs' },
      { key: 'accepted', label: 'accepted' },
      { key: 'typed', label: 'typed errors' },
      { key: 'untyped', label: 'untyped exceptions or hangs (goal 0)' },
    ],
  },
  secrets: {
    title: 'Secrets',
    intro: [
      'Recognisable secret values (client secrets, passwords, private keys, API keys, issued',
      'access and refresh tokens) are driven through the error paths of every package, the',
      '`tokenkeeper` CLI (its standard error and its encrypted cache file), the n8n credential',
      "types (with a request helper whose errors carry the request, like n8n's) and the emulator,",
      'including endpoints that echo the request back in every field a client might quote. Every',
      'error message, `util.inspect` output (errors with their causes, clients, tokens),',
      '`JSON.stringify`, `TOKEN_CHANNELS` and store diagnostics event, logger call and emulator',
      'log line is searched for each secret, raw, URL-, form-, JSON- and Base64-encoded. Each leak',
      'found has a focused row of its own.',
    ].join('\n'),
    columns: [
      { key: 'paths', label: 'error paths driven' },
      { key: 'texts', label: 'texts searched' },
      { key: 'leaks', label: 'secrets found (goal 0)' },
    ],
  },
  transport: {
    title: 'Transport safety',
    intro: [
      'Where secrets and tokens may travel: loopback servers record every request they receive.',
    ].join('\n'),
    columns: [
      { key: 'result', label: 'result' },
      { key: 'goal', label: 'goal' },
    ],
  },
}

const SECTION_ORDER: readonly Section[] = ['soak', 'faults', 'generated', 'secrets', 'transport']

/** Test files in the order their rows appear (vendors as in the architecture document). */
const FILE_ORDER = [
  'soak-clearid',
  'soak-clear',
  'soak-akamai',
  'soak-apiax',
  'faults-clearid',
  'faults-clear',
  'faults-akamai',
  'faults-apiax',
  'generated-input',
  'secrets',
  'transport',
]

/** Sorts rows by file, then by the order the file wrote them. */
function byPosition(left: Entry, right: Entry): number {
  const rank = (entry: Entry) => {
    const index = FILE_ORDER.indexOf(entry.file.replace(/\.test\.ts$/, ''))
    return index < 0 ? FILE_ORDER.length : index
  }
  return (
    rank(left) - rank(right) ||
    (left.order ?? 0) - (right.order ?? 0) ||
    left.id.localeCompare(right.id)
  )
}

/** One Node major version's latest figures, as kept in the report's data block. */
interface RunData {
  node: string
  /** When these figures last changed (UTC date). */
  date: string
  entries: Entry[]
}

type ReportData = Record<string, RunData>

/**
 * The data block, compact: each row's description once, then per Node major only the figures,
 * each as `[value]`, `[value, goal, met]` or, for a volatile one, `[value, goal, met, tolerance]`.
 */
interface StoredData {
  rows: Omit<Entry, 'figures'>[]
  runs: Record<
    string,
    { node: string; date: string; figures: Record<string, Record<string, unknown[]>> }
  >
}

function encodeFigure(figure: Figure): unknown[] {
  if (figure.volatile) {
    return [figure.value, figure.goal ?? null, figure.met ?? null, figure.tolerance ?? 0]
  }
  if (figure.goal === undefined && figure.met === undefined) return [figure.value]
  return [figure.value, figure.goal ?? null, figure.met ?? null]
}

function decodeFigure(encoded: unknown[]): Figure {
  const [value, goal, met, tolerance] = encoded as [
    number | string,
    string | null,
    boolean | null,
    number?,
  ]
  return {
    value,
    ...(goal !== null && goal !== undefined ? { goal } : {}),
    ...(met !== null && met !== undefined ? { met } : {}),
    ...(tolerance !== undefined ? { volatile: true, tolerance } : {}),
  }
}

/** Reads the data block of the current report, if any. */
function readData(text: string): ReportData {
  const start = text.indexOf(DATA_START)
  if (start < 0) return {}
  const end = text.indexOf(DATA_END, start)
  try {
    const stored = JSON.parse(text.slice(start + DATA_START.length, end)) as StoredData
    const rows = new Map(stored.rows.map((row) => [row.id, row]))
    const data: ReportData = {}
    for (const [major, run] of Object.entries(stored.runs)) {
      const entries: Entry[] = []
      for (const [id, figures] of Object.entries(run.figures)) {
        const row = rows.get(id)
        if (!row) continue
        const decoded: Record<string, Figure> = {}
        for (const [key, encoded] of Object.entries(figures)) decoded[key] = decodeFigure(encoded)
        entries.push({ ...row, figures: decoded })
      }
      data[major] = { node: run.node, date: run.date, entries }
    }
    return data
  } catch {
    return {}
  }
}

/** Writes the data block (rows sorted by id, one per line, so diffs stay readable). */
function writeData(data: ReportData, majors: readonly string[]): string {
  const rows = new Map<string, Omit<Entry, 'figures'>>()
  for (const major of majors) {
    for (const { figures: _figures, ...row } of data[major]!.entries) rows.set(row.id, row)
  }
  const rowLines = [...rows.values()]
    .sort((left, right) => left.id.localeCompare(right.id))
    .map((row) => `    ${JSON.stringify(row)}`)
  const runLines = majors.map((major) => {
    const run = data[major]!
    const figureLines = [...run.entries]
      .sort((left, right) => left.id.localeCompare(right.id))
      .map((entry) => {
        const encoded: Record<string, unknown[]> = {}
        for (const [key, figure] of Object.entries(entry.figures))
          encoded[key] = encodeFigure(figure)
        return `      ${JSON.stringify(entry.id)}: ${JSON.stringify(encoded)}`
      })
    return `    ${JSON.stringify(major)}: {"node": ${JSON.stringify(run.node)}, "date": ${JSON.stringify(run.date)}, "figures": {\n${figureLines.join(',\n')}\n    }}`
  })
  return `{\n  "rows": [\n${rowLines.join(',\n')}\n  ],\n  "runs": {\n${runLines.join(',\n')}\n  }\n}`
}

function sameFigures(left: Entry[], right: Entry[]): boolean {
  return JSON.stringify(left) === JSON.stringify(right)
}

/**
 * Keeps a volatile figure's previous value while the new one is within its tolerance and meets
 * its goal, so memory noise does not rewrite the report on every run.
 */
function steady(entries: Entry[], previous: RunData | undefined): Entry[] {
  if (!previous) return entries
  const before = new Map(previous.entries.map((entry) => [entry.id, entry]))
  return entries.map((entry) => {
    const old = before.get(entry.id)
    if (!old) return entry
    const figures: Record<string, Figure> = {}
    for (const [key, figure] of Object.entries(entry.figures)) {
      const prior = old.figures[key]
      const close =
        figure.volatile &&
        prior !== undefined &&
        typeof figure.value === 'number' &&
        typeof prior.value === 'number' &&
        Math.abs(figure.value - prior.value) <= (figure.tolerance ?? 0) &&
        figure.met !== false &&
        prior.met !== false
      figures[key] = close ? prior : figure
    }
    return { ...entry, figures }
  })
}

function cell(figure: Figure | undefined): string {
  if (figure === undefined) return ''
  const goal = figure.goal === undefined || figure.goal === '0' ? '' : ` (${figure.goal})`
  return `${figure.value}${goal}${figure.met === false ? ' ✗' : ''}`
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ')
}

/** Renders the report from the data of every Node major that has run. */
export function renderReport(data: ReportData): string {
  const majors = Object.keys(data).sort((left, right) => Number(left) - Number(right))
  const rows = new Map<string, Map<string, Entry>>()
  const ordered = majors.flatMap((major) => data[major]!.entries).sort(byPosition)
  for (const id of new Set(ordered.map((entry) => entry.id))) rows.set(id, new Map())
  for (const major of majors) {
    for (const entry of data[major]!.entries) {
      let byMajor = rows.get(entry.id)
      if (!byMajor) {
        byMajor = new Map()
        rows.set(entry.id, byMajor)
      }
      byMajor.set(major, entry)
    }
  }
  const lines: string[] = [
    '# Reliability',
    '',
    'Written by the reliability suite in `tests/reliability` on every run of its tests (`pnpm test`,',
    'on Node 20 and on Node 24); do not edit by hand. Figures from simulated time are the same on every',
    'run; when Node versions disagree, a cell shows each. ✗ marks a figure that misses its goal;',
    '"known defect" rows are `it.fails` tests that document an open bug until it is fixed.',
    '',
    '| Node | figures last changed |',
    '|---|---|',
    ...majors.map((major) => `| ${data[major]!.node} | ${data[major]!.date} |`),
  ]
  for (const section of SECTION_ORDER) {
    const spec = SECTIONS[section]
    const ids = [...rows.keys()].filter((id) => {
      const first = rows.get(id)!.values().next().value as Entry
      return first.section === section
    })
    if (ids.length === 0) continue
    lines.push('', `## ${spec.title}`, '', spec.intro)
    const groups = new Map<string, string[]>()
    for (const id of ids) {
      const first = rows.get(id)!.values().next().value as Entry
      const group = first.group ?? ''
      groups.set(group, [...(groups.get(group) ?? []), id])
    }
    for (const [group, groupIds] of groups) {
      if (group) lines.push('', `### ${group}`)
      const withExercises = groupIds.some(
        (id) => (rows.get(id)!.values().next().value as Entry).exercises,
      )
      const header = ['test', ...(withExercises ? ['exercises'] : [])]
      header.push(...spec.columns.map((column) => column.label))
      lines.push('', `| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`)
      for (const id of groupIds) {
        const byMajor = rows.get(id)!
        const first = byMajor.values().next().value as Entry
        const title = first.knownDefect
          ? `${first.title} — **known defect**: ${first.knownDefect}`
          : first.title
        const cells = [title, ...(withExercises ? [first.exercises ?? ''] : [])]
        for (const column of spec.columns) {
          const texts = majors
            .filter((major) => byMajor.has(major))
            .map((major) => ({ major, text: cell(byMajor.get(major)!.figures[column.key]) }))
          const distinct = new Set(texts.map((text) => text.text))
          cells.push(
            distinct.size <= 1
              ? (texts[0]?.text ?? '')
              : texts.map((text) => `Node ${text.major}: ${text.text}`).join(' · '),
          )
        }
        lines.push(`| ${cells.map(escapeCell).join(' | ')} |`)
      }
    }
  }
  lines.push('', DATA_START, writeData(data, majors), DATA_END, '')
  return lines.join('\n')
}

/** Reads this run's entries; `undefined` when the run did not cover every test file. */
function collectEntries(): Entry[] | undefined {
  if (!existsSync(RESULTS_DIRECTORY)) return undefined
  const entries = readdirSync(RESULTS_DIRECTORY)
    .filter((name) => name.endsWith('.json'))
    .map((name) => JSON.parse(readFileSync(join(RESULTS_DIRECTORY, name), 'utf8')) as Entry)
  const files = readdirSync(TEST_DIRECTORY).filter((name) => name.endsWith('.test.ts'))
  const covered = new Set(entries.map((entry) => entry.file))
  const missing = files.filter((file) => !covered.has(file))
  if (missing.length > 0) {
    console.log(`RELIABILITY.md not rewritten: no figures from ${missing.join(', ')}`)
    return undefined
  }
  return entries
}

/**
 * Merges this run's entries into the report under the running Node major and rewrites the file
 * if anything but noise changed.
 */
export function writeReport(entries: Entry[], today: string): boolean {
  const existing = existsSync(REPORT_PATH) ? readFileSync(REPORT_PATH, 'utf8') : ''
  const data = readData(existing)
  const major = process.versions.node.split('.')[0]!
  const previous = data[major]
  const steadied = steady(entries, previous)
  const unchanged =
    previous !== undefined &&
    previous.node === process.version &&
    sameFigures(
      [...previous.entries].sort((left, right) => left.id.localeCompare(right.id)),
      [...steadied].sort((left, right) => left.id.localeCompare(right.id)),
    )
  data[major] = {
    node: process.version,
    date: unchanged ? previous.date : today,
    entries: steadied,
  }
  const text = renderReport(data)
  if (text === existing) return false
  writeFileSync(REPORT_PATH, text)
  return true
}

/**
 * Vitest global setup: clears the previous run's entries before the tests, writes
 * RELIABILITY.md after them (only for a run of every test file without a name filter).
 */
export default function setup(project: { config: { testNamePattern?: unknown } }) {
  rmSync(RESULTS_DIRECTORY, { recursive: true, force: true })
  return () => {
    if (project.config.testNamePattern) {
      console.log('RELIABILITY.md not rewritten: tests were filtered by name')
      return
    }
    const entries = collectEntries()
    if (!entries) return
    const today = new Date().toISOString().slice(0, 10)
    const written = writeReport(entries, today)
    console.log(written ? 'RELIABILITY.md updated' : 'RELIABILITY.md unchanged')
  }
}
