/** The pinned n8n version the end-to-end test runs. */
export declare const n8nVersion: string
/** Folder n8n is installed into. */
export declare const n8nPrefix: string
/** Installs n8n once (idempotent) and returns how to run it. */
export declare function ensureN8n(): {
  n8nBin: string
  nodeBin: string
  env: NodeJS.ProcessEnv
  prefix: string
}
