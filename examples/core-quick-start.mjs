// A runnable tour of @tokenkeeper/auth-core against a tiny token server on loopback:
// one token for many callers, a rejected token recovered with one renewal.
//   pnpm build && node examples/core-quick-start.mjs
import { createServer } from 'node:http'
import {
  createTokenClient,
  oauthIssuedToken,
  parseOAuthTokenResponse,
  tokenEndpointError,
} from '@tokenkeeper/auth-core'

let issued = 0
const valid = new Set()
const server = createServer((request, response) => {
  if (request.url === '/token') {
    const token = `demo-token-${++issued}`
    valid.clear()
    valid.add(token)
    response.setHeader('content-type', 'application/json')
    return response.end(
      JSON.stringify({ access_token: token, expires_in: 3600, token_type: 'Bearer' }),
    )
  }
  const token = request.headers.authorization?.replace('Bearer ', '')
  response.statusCode = valid.has(token) ? 200 : 401
  response.end(valid.has(token) ? 'hello' : 'rejected')
})
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
const origin = `http://127.0.0.1:${server.address().port}`

const client = createTokenClient({
  vendor: 'demo',
  cacheKey: () => 'demo:client',
  async requestToken({ transport, signal, now }) {
    const response = await transport({
      url: `${origin}/token`,
      method: 'POST',
      headers: {},
      body: 'grant_type=client_credentials',
      signal,
    })
    if (response.status !== 200) throw tokenEndpointError(response, { vendor: 'demo', now: now() })
    return oauthIssuedToken(parseOAuthTokenResponse(response, 'demo'))
  },
  authHeaders: (token) => ({ authorization: `Bearer ${token.value}` }),
})

const responses = await Promise.all(Array.from({ length: 50 }, () => client.fetch(`${origin}/api`)))
console.log(
  `50 concurrent calls: ${responses.filter((r) => r.ok).length} ok, ${issued} token request(s)`,
)
valid.clear() // the vendor revokes the token
const retried = await Promise.all(Array.from({ length: 50 }, () => client.fetch(`${origin}/api`)))
console.log(
  `after revocation: ${retried.filter((r) => r.ok).length} ok, ${issued} token request(s) in all`,
)
console.log(`the token prints safely: ${String(await client.getToken())}`)
await client.close()
server.close()
