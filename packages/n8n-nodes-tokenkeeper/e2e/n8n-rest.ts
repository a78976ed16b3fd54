import { once } from 'node:events'
import type { N8nInstance } from './n8n-instance.ts'

/** A logged-in session on a running `n8n start`, for what only the REST API offers. */
export interface RestSession {
  /**
   * Tests a stored credential the way the editor does: it loads the credential (secrets come
   * back redacted) and posts it to `/rest/credentials/test`, which merges the stored secrets.
   */
  testCredential(id: string): Promise<{ status: string; message?: string }>
  stop(): Promise<void>
}

const OWNER = {
  email: 'owner@example.com',
  firstName: 'E2E',
  lastName: 'Owner',
  password: 'TokenKeeper-e2e-1',
}

/** Starts `n8n start`, sets up the owner account and logs in. */
export async function n8nRest(n8n: N8nInstance): Promise<RestSession> {
  const child = await n8n.spawn(['start'])
  const base = `http://127.0.0.1:${n8n.port}`
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
      await once(child, 'close')
      clearTimeout(timer)
    }
  }
  try {
    await waitForHealth(base, child)
    let cookie = await ownerSetup(base)
    cookie ??= await login(base)
    const request = async (path: string, init: RequestInit = {}) => {
      const response = await fetch(`${base}${path}`, {
        ...init,
        headers: {
          'content-type': 'application/json',
          'browser-id': 'tokenkeeper-e2e',
          cookie,
          ...(init.headers as Record<string, string> | undefined),
        },
      })
      const text = await response.text()
      if (!response.ok)
        throw new Error(
          `${init.method ?? 'GET'} ${path}: HTTP ${response.status} ${text.slice(0, 500)}`,
        )
      return (JSON.parse(text) as { data: unknown }).data
    }
    return {
      async testCredential(id) {
        const credential = (await request(`/rest/credentials/${id}?includeData=true`)) as Record<
          string,
          unknown
        >
        const { id: credentialId, name, type, data } = credential
        return (await request('/rest/credentials/test', {
          method: 'POST',
          body: JSON.stringify({ credentials: { id: credentialId, name, type, data } }),
        })) as { status: string; message?: string }
      },
      stop,
    }
  } catch (error) {
    await stop()
    throw error
  }
}

async function waitForHealth(base: string, child: { exitCode: number | null }): Promise<void> {
  const deadline = Date.now() + 120_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`n8n start exited with ${child.exitCode}`)
    try {
      const response = await fetch(`${base}/healthz/readiness`)
      if (response.ok) return
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
  throw new Error('n8n start did not become ready within 120 s')
}

function authCookie(response: Response): string | undefined {
  const cookies = response.headers.getSetCookie?.() ?? []
  const auth = cookies.find((cookie) => cookie.startsWith('n8n-auth='))
  return auth?.split(';')[0]
}

async function ownerSetup(base: string): Promise<string | undefined> {
  const response = await fetch(`${base}/rest/owner/setup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'browser-id': 'tokenkeeper-e2e' },
    body: JSON.stringify(OWNER),
  })
  await response.text()
  return response.ok ? authCookie(response) : undefined
}

async function login(base: string): Promise<string> {
  const response = await fetch(`${base}/rest/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'browser-id': 'tokenkeeper-e2e' },
    body: JSON.stringify({ emailOrLdapLoginId: OWNER.email, password: OWNER.password }),
  })
  const text = await response.text()
  const cookie = authCookie(response)
  if (!response.ok || !cookie)
    throw new Error(`n8n login failed: HTTP ${response.status} ${text.slice(0, 300)}`)
  return cookie
}
