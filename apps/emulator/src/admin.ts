import { EmulatorError } from './errors.ts'
import { isFaultTarget } from './faults.ts'
import type { EmulatorRequest, Reply } from './http.ts'
import { type Emulator, type Fault, VENDORS, type Vendor } from './types.ts'

/** Prefix of every admin route. */
export const ADMIN_PREFIX = '/_emulator'

type Body = Record<string, unknown>
type Route = {
  method: string
  path: RegExp
  run: (body: Body, match: RegExpExecArray) => unknown | Promise<unknown>
}

const vendorPattern = `(${VENDORS.join('|')})`

/**
 * The admin HTTP API: JSON mirrors of the programmatic controls. Request bodies are JSON
 * objects; answers are JSON; a bad request is 400 `{ error: <code>, message }`.
 */
export function createAdminHandler(
  emulator: () => Emulator,
): (request: EmulatorRequest, reply: Reply) => Promise<void> {
  const routes: Route[] = [
    {
      method: 'GET',
      path: /^$/,
      run: () => ({ urls: emulator().urls, demo: emulator().demo, vendors: VENDORS }),
    },
    { method: 'GET', path: /^\/counters$/, run: () => emulator().counters() },
    {
      method: 'POST',
      path: /^\/counters\/reset$/,
      run: () => {
        emulator().resetCounters()
        return emulator().counters()
      },
    },
    { method: 'GET', path: /^\/faults$/, run: () => emulator().faults.list() },
    {
      method: 'PUT',
      path: /^\/faults\/([a-z]+\.[a-z]+)$/,
      run: (body, match) => {
        const target = match[1]
        if (!isFaultTarget(target)) throw unknownTarget(target)
        emulator().faults.set(target, body as unknown as Fault)
        return emulator().faults.list()
      },
    },
    {
      method: 'DELETE',
      path: /^\/faults\/([a-z]+\.[a-z]+)$/,
      run: (_body, match) => {
        const target = match[1]
        if (!isFaultTarget(target)) throw unknownTarget(target)
        emulator().faults.clear(target)
        return emulator().faults.list()
      },
    },
    {
      method: 'DELETE',
      path: /^\/faults$/,
      run: () => {
        emulator().faults.clear()
        return []
      },
    },
    { method: 'GET', path: /^\/clock$/, run: () => clockState(emulator()) },
    {
      method: 'POST',
      path: /^\/clock\/advance$/,
      run: (body) => {
        emulator().clock.advance(body.ms as number)
        return clockState(emulator())
      },
    },
    {
      method: 'PUT',
      path: /^\/clock\/skew$/,
      run: (body) => {
        emulator().clock.setSkew(body.ms as number)
        return clockState(emulator())
      },
    },
    {
      method: 'POST',
      path: new RegExp(`^/${vendorPattern}/revoke$`),
      run: (_body, match) => {
        emulator().revokeTokens(match[1] as Vendor)
        return { revoked: match[1] }
      },
    },
    {
      method: 'POST',
      path: new RegExp(`^/${vendorPattern}/expire$`),
      run: (_body, match) => {
        emulator().expireTokens(match[1] as Vendor)
        return { expired: match[1] }
      },
    },
    {
      method: 'POST',
      path: /^\/clearid\/clients$/,
      run: (body) => emulator().clearid.registerClient(body),
    },
    {
      method: 'POST',
      path: /^\/clearid\/clients\/remove$/,
      run: (body) => ({ removed: emulator().clearid.removeClient(String(body.clientId)) }),
    },
    {
      method: 'POST',
      path: /^\/clearid\/key-files$/,
      run: (body) => emulator().clearid.createKeyFile(body),
    },
    {
      method: 'PUT',
      path: /^\/clearid\/token-lifetime$/,
      run: (body) => {
        emulator().clearid.setTokenLifetime(body.seconds as number)
        return { seconds: body.seconds }
      },
    },
    {
      method: 'POST',
      path: /^\/clear\/secrets$/,
      run: (body) => {
        emulator().clear.registerSecret(body as never)
        return { registered: true }
      },
    },
    {
      method: 'POST',
      path: /^\/clear\/secrets\/remove$/,
      run: (body) => ({ removed: emulator().clear.removeSecret(String(body.secret)) }),
    },
    {
      method: 'PUT',
      path: /^\/clear\/config$/,
      run: (body) => {
        emulator().clear.configure(body)
        return { configured: true }
      },
    },
    {
      method: 'POST',
      path: /^\/akamai\/clients$/,
      run: (body) => {
        emulator().akamai.registerClient(body as never)
        return { registered: true }
      },
    },
    {
      method: 'POST',
      path: /^\/akamai\/clients\/remove$/,
      run: (body) => ({
        removed: emulator().akamai.removeClient(String(body.customerId), String(body.clientId)),
      }),
    },
    {
      method: 'GET',
      path: /^\/akamai\/subscriptions\/([^/]+)$/,
      run: (_body, match) => emulator().akamai.subscriptions(decodeURIComponent(match[1]!)),
    },
    {
      method: 'PUT',
      path: /^\/akamai\/token-lifetime$/,
      run: (body) => {
        emulator().akamai.setTokenLifetime(
          String(body.customerId),
          String(body.clientId),
          body.seconds as number,
        )
        return { seconds: body.seconds }
      },
    },
    {
      method: 'POST',
      path: /^\/apiax\/users$/,
      run: (body) => {
        emulator().apiax.registerUser(body as never)
        return { registered: true }
      },
    },
    {
      method: 'POST',
      path: /^\/apiax\/api-keys$/,
      run: (body) => {
        emulator().apiax.registerApiKey(body.apiKey as string)
        return { registered: true }
      },
    },
    {
      method: 'PUT',
      path: /^\/apiax\/config$/,
      run: (body) => emulator().apiax.configure(body),
    },
    {
      method: 'POST',
      path: /^\/apiax\/clients$/,
      run: (body) => {
        emulator().apiax.registerClient(body as never)
        return { registered: true }
      },
    },
    {
      method: 'POST',
      path: /^\/apiax\/sessions\/kill$/,
      run: () => ({ killed: emulator().apiax.killSessions() }),
    },
  ]

  return async (request, reply) => {
    if (!request.pathname.startsWith(ADMIN_PREFIX)) {
      reply.json(404, { error: 'NOT_FOUND', message: `Admin routes live under ${ADMIN_PREFIX}/` })
      return
    }
    const rest = request.pathname.slice(ADMIN_PREFIX.length).replace(/\/$/, '')
    const matching = routes.filter((route) => route.path.test(rest))
    if (matching.length === 0) {
      reply.json(404, { error: 'NOT_FOUND', message: 'No such admin route' })
      return
    }
    const route = matching.find((candidate) => candidate.method === request.method)
    if (!route) {
      const allowed = [...new Set(matching.map((candidate) => candidate.method))].join(', ')
      reply.json(
        405,
        { error: 'METHOD_NOT_ALLOWED', message: `Use ${allowed}` },
        { Allow: allowed },
      )
      return
    }
    let body: Body = {}
    if (request.body.length > 0) {
      const parsed = request.json()
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        reply.json(400, { error: 'INVALID_OPTION', message: 'The body must be a JSON object' })
        return
      }
      body = parsed as Body
    }
    try {
      const result = await route.run(body, route.path.exec(rest)!)
      reply.json(200, result ?? {})
    } catch (error) {
      if (EmulatorError.is(error)) {
        reply.json(error.code === 'UNKNOWN_ENTITY' ? 404 : 400, {
          error: error.code,
          message: error.message,
        })
        return
      }
      throw error
    }
  }
}

function unknownTarget(target: string | undefined): EmulatorError {
  return new EmulatorError(
    'INVALID_OPTION',
    `Unknown fault target ${JSON.stringify(target)}; expected <vendor>.token or <vendor>.api`,
  )
}

function clockState(emulator: Emulator): Record<string, unknown> {
  const now = emulator.clock.now()
  return {
    now,
    iso: new Date(now).toISOString(),
    advanced: emulator.clock.advanced,
    skew: emulator.clock.skew,
  }
}
