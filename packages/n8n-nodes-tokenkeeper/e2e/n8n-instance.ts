import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const execFileAsync = promisify(execFile)

/** How to run the n8n that `install-n8n.mjs` installed. */
export interface N8nInstallation {
  n8nBin: string
  nodeBin: string
  env: NodeJS.ProcessEnv
}

/** The result of one `n8n` command. */
export interface CommandResult {
  code: number
  stdout: string
  stderr: string
}

/** One node's output items in an execution (`json` of each item), or its error. */
export interface NodeRun {
  items: Record<string, unknown>[]
  error?: { message?: string; httpCode?: string } | undefined
}

/** A credential as `n8n import:credentials` takes it (`data` in plain text, encrypted on import). */
export interface CredentialExport {
  id: string
  name: string
  type: string
  data: Record<string, unknown>
}

/** Longest any single n8n command may take, ms (bounds the whole run). */
const COMMAND_TIMEOUT = 180_000

/**
 * A real n8n with its own user folder (SQLite database, settings) in a temporary directory,
 * driven through its CLI like an operator would: import credentials and workflows, execute a
 * workflow by id, export credentials. Our package is installed into the folder the way n8n's
 * community package installer does it.
 */
export class N8nInstance {
  readonly userFolder: string
  readonly #installation: N8nInstallation
  readonly #env: NodeJS.ProcessEnv
  readonly log: string[] = []

  private constructor(installation: N8nInstallation, userFolder: string, env: NodeJS.ProcessEnv) {
    this.#installation = installation
    this.userFolder = userFolder
    this.#env = env
  }

  /** A fresh instance with the packed package installed. */
  static async create(
    installation: N8nInstallation,
    packageTarball: string,
    label: string,
  ): Promise<N8nInstance> {
    const userFolder = mkdtempSync(join(tmpdir(), `n8n-e2e-${label}-`))
    const port = await freePort()
    // The test runner's own variables (NODE_ENV=test, VITEST*) change how n8n behaves.
    const inherited = Object.fromEntries(
      Object.entries(installation.env).filter(
        ([name]) => !name.startsWith('VITEST') && name !== 'NODE_ENV' && name !== 'NODE_OPTIONS',
      ),
    )
    const env: NodeJS.ProcessEnv = {
      ...inherited,
      NODE_ENV: 'production',
      N8N_USER_FOLDER: userFolder,
      N8N_ENCRYPTION_KEY: 'tokenkeeper-e2e-fixed-encryption-key',
      N8N_DIAGNOSTICS_ENABLED: 'false',
      N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
      N8N_TEMPLATES_ENABLED: 'false',
      N8N_PERSONALIZATION_ENABLED: 'false',
      N8N_PORT: String(port),
      // No Code node runs here: no task runner is launched (external mode, none attached).
      N8N_RUNNERS_MODE: 'external',
      N8N_RUNNERS_AUTH_TOKEN: 'tokenkeeper-e2e-runner-token',
      N8N_SECURE_COOKIE: 'false',
      N8N_LOG_LEVEL: 'info',
      N8N_LOG_OUTPUT: 'console',
      // Community packages load from the user folder; nothing is fetched from a registry.
      N8N_COMMUNITY_PACKAGES_ENABLED: 'true',
      N8N_REINSTALL_MISSING_PACKAGES: 'false',
      N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS: 'false',
      DB_TYPE: 'sqlite',
      GENERIC_TIMEZONE: 'UTC',
      TZ: 'UTC',
    }
    const instance = new N8nInstance(installation, userFolder, env)
    await instance.#installPackage(packageTarball)
    return instance
  }

  /**
   * What n8n's community package installer does (CommunityPackagesService.downloadPackage): the
   * tarball is extracted into `~/.n8n/nodes/node_modules/<name>`, its dev, peer and optional
   * dependencies are removed from its package.json, `npm install` runs in it with scripts off,
   * and the package is recorded in `~/.n8n/nodes/package.json`.
   */
  async #installPackage(tarball: string): Promise<void> {
    const nodesFolder = join(this.userFolder, '.n8n', 'nodes')
    const packageFolder = join(nodesFolder, 'node_modules', 'n8n-nodes-tokenkeeper')
    mkdirSync(packageFolder, { recursive: true })
    await execFileAsync('tar', ['-xzf', tarball, '-C', packageFolder, '--strip-components=1'])
    const manifestPath = join(packageFolder, 'package.json')
    const { readFileSync } = await import('node:fs')
    const {
      devDependencies: _dev,
      peerDependencies: _peer,
      optionalDependencies: _optional,
      ...manifest
    } = JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<string, unknown>
    writeFileSync(manifestPath, JSON.stringify(manifest, null, 2))
    await execFileAsync(
      'npm',
      [
        'install',
        '--audit=false',
        '--fund=false',
        '--bin-links=false',
        '--install-strategy=shallow',
        '--ignore-scripts=true',
        '--package-lock=false',
        '--offline',
      ],
      { cwd: packageFolder, env: this.#env, timeout: COMMAND_TIMEOUT },
    )
    writeFileSync(
      join(nodesFolder, 'package.json'),
      JSON.stringify(
        {
          name: 'installed-nodes',
          private: true,
          dependencies: { 'n8n-nodes-tokenkeeper': manifest.version },
        },
        null,
        2,
      ),
    )
  }

  /** Every n8n process opens a task broker: each gets its own port, so they can overlap. */
  async #commandEnv(): Promise<NodeJS.ProcessEnv> {
    return { ...this.#env, N8N_RUNNERS_BROKER_PORT: String(await freePort()) }
  }

  /** The port `n8n start` listens on. */
  get port(): number {
    return Number(this.#env.N8N_PORT)
  }

  /** Starts a long-running `n8n <args>` (e.g. `start`); the caller stops it. */
  async spawn(args: string[]): Promise<ChildProcess> {
    const { nodeBin, n8nBin } = this.#installation
    const child = spawn(nodeBin, [n8nBin, ...args], {
      env: await this.#commandEnv(),
      cwd: this.userFolder,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const lines: string[] = []
    const keep = (chunk: string) => {
      lines.push(chunk)
      if (lines.length > 200) lines.shift()
    }
    child.stdout?.setEncoding('utf8').on('data', keep)
    child.stderr?.setEncoding('utf8').on('data', keep)
    child.on('close', (code) =>
      this.log.push(`$ n8n ${args.join(' ')} -> ${code}\n${lines.join('')}`),
    )
    return child
  }

  /** Runs `n8n <args>`; never throws for a non-zero exit (the caller judges). */
  async run(args: string[]): Promise<CommandResult> {
    const { nodeBin, n8nBin } = this.#installation
    const env = await this.#commandEnv()
    return await new Promise<CommandResult>((resolve, reject) => {
      const child = spawn(nodeBin, [n8nBin, ...args], {
        env,
        cwd: this.userFolder,
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let stdout = ''
      let stderr = ''
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk
      })
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk
      })
      const timer = setTimeout(() => {
        child.kill('SIGKILL')
        reject(new Error(`n8n ${args.join(' ')} did not finish within ${COMMAND_TIMEOUT} ms`))
      }, COMMAND_TIMEOUT)
      child.on('error', (error) => {
        clearTimeout(timer)
        reject(error)
      })
      child.on('close', (code) => {
        clearTimeout(timer)
        this.log.push(`$ n8n ${args.join(' ')} -> ${code}\n${stdout}\n${stderr}`)
        resolve({ code: code ?? 1, stdout, stderr })
      })
    })
  }

  /** Runs a command that must succeed. */
  async must(args: string[]): Promise<CommandResult> {
    const result = await this.run(args)
    if (result.code !== 0) {
      throw new Error(
        `n8n ${args.join(' ')} failed with exit code ${result.code}:\n${tail(result.stdout)}\n${tail(result.stderr)}`,
      )
    }
    return result
  }

  /** Imports credentials (plain data, encrypted by n8n on import). */
  async importCredentials(credentials: CredentialExport[]): Promise<void> {
    const file = join(this.userFolder, `credentials-${Date.now()}-${Math.random()}.json`)
    writeFileSync(file, JSON.stringify(credentials))
    await this.must(['import:credentials', `--input=${file}`])
  }

  /** Imports workflows, ids kept. */
  async importWorkflows(workflows: Record<string, unknown>[]): Promise<void> {
    const file = join(this.userFolder, `workflows-${Date.now()}-${Math.random()}.json`)
    writeFileSync(file, JSON.stringify(workflows))
    await this.must(['import:workflow', `--input=${file}`])
  }

  /** `n8n execute --id --rawOutput`: the exit code and each node's output items. */
  async execute(
    workflowId: string,
  ): Promise<{ code: number; nodes: Record<string, NodeRun>; output: string }> {
    const result = await this.run(['execute', `--id=${workflowId}`, '--rawOutput'])
    const nodes: Record<string, NodeRun> = {}
    const json = extractJson(result.stdout)
    const runData = (json as ExecutionJson | undefined)?.data?.resultData?.runData ?? {}
    for (const [name, runs] of Object.entries(runData)) {
      const run = runs[runs.length - 1]
      nodes[name] = {
        items: (run?.data?.main?.[0] ?? []).map((item) => item.json),
        error: run?.error,
      }
    }
    return { code: result.code, nodes, output: `${result.stdout}\n${result.stderr}` }
  }

  /** The decrypted data of a credential, as n8n persisted it. */
  async exportCredential(id: string): Promise<Record<string, unknown>> {
    const file = join(this.userFolder, `export-${id}-${Date.now()}.json`)
    await this.must(['export:credentials', `--id=${id}`, '--decrypted', `--output=${file}`])
    const { readFileSync } = await import('node:fs')
    const exported = JSON.parse(readFileSync(file, 'utf8')) as CredentialExport[]
    rmSync(file)
    const credential = exported.find((entry) => entry.id === id)
    if (!credential) throw new Error(`credential ${id} was not exported`)
    return credential.data
  }

  /** Removes the user folder. */
  dispose(): void {
    rmSync(this.userFolder, { recursive: true, force: true })
  }
}

interface ExecutionJson {
  data?: {
    resultData?: {
      runData?: Record<
        string,
        {
          data?: { main?: { json: Record<string, unknown> }[][] }
          error?: { message?: string; httpCode?: string }
        }[]
      >
    }
  }
}

/** The execution JSON printed by `--rawOutput` (log lines may come before it). */
function extractJson(stdout: string): unknown {
  const start = stdout.search(/^\{$/m)
  if (start < 0) return undefined
  const end = stdout.lastIndexOf('\n}')
  try {
    return JSON.parse(stdout.slice(start, end + 2))
  } catch {
    return undefined
  }
}

function tail(text: string, lines = 40): string {
  return text.split('\n').slice(-lines).join('\n')
}

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => {
        if (typeof address === 'object' && address) resolve(address.port)
        else reject(new Error('no port'))
      })
    })
  })
}
