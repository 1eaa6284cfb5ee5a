'use strict';
// api-gateway (:3000, behind the gateway sidecar :8000): authentication, and the users API
// forwarded to user-service.
//   POST /auth/login      {username, password}: 200 {access_token} + refresh_token cookie;
//                         401 when the password is "wrong" (the demo's only bad password)
//   POST /auth/refresh    the refresh_token cookie: 200, a new access token, the cookie rotated;
//                         401 without a valid one
//   POST /auth/logout     200, the session ends, the cookie is cleared
//   GET|POST /auth/callback?code=   the OIDC redirect: 302 to / with a refresh_token cookie;
//                         400 without a code
//   GET|POST /users, GET|PUT|PATCH|DELETE /users/:id   forwarded to user-service, with a
//                         bearer access token (401 without); GET /users streams its body
//                         (Transfer-Encoding: chunked), the others keep Content-Length
// Access tokens are HS256 JWTs ({sub, sid, iat, exp}, 15 min) signed with a per-process key
// (node:crypto: the few lines of HS256 are not worth a dependency); refresh tokens are opaque
// and held in memory. Flags: --port, --host, --user-service URL.
const crypto = require('node:crypto');
const { Readable } = require('node:stream');
const { NestFactory } = require('@nestjs/core');
const {
  Module, Controller, Get, Post, Put, Patch, Delete, Req, Res, Body, Query, HttpCode, Redirect,
  UnauthorizedException, BadRequestException,
} = require('@nestjs/common');
const { decorateClass, parseFlags, stopOn } = require('../common/nest');
const { httpMetrics, MetricsController } = require('../common/metrics');

const flags = parseFlags(process.argv.slice(2), { port: 3000, userService: 'http://127.0.0.1:8001' });
const KEY = crypto.randomBytes(32);
const ACCESS_TTL = 900;
const REFRESH_COOKIE = 'refresh_token';
const REFRESH_OPTS = { httpOnly: true, sameSite: 'strict', path: '/auth', maxAge: 7 * 86400 * 1000 };
const sessions = new Map(); // refresh token -> { sid, sub }

const b64 = (buf) => Buffer.from(buf).toString('base64url');
function signJwt(claims) {
  const head = b64(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64(JSON.stringify(claims));
  const sig = crypto.createHmac('sha256', KEY).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}
function verifyJwt(token) {
  const [head, body, sig] = String(token).split('.');
  if (!sig) return null;
  const want = crypto.createHmac('sha256', KEY).update(`${head}.${body}`).digest();
  const got = Buffer.from(sig, 'base64url');
  if (got.length !== want.length || !crypto.timingSafeEqual(got, want)) return null;
  const claims = JSON.parse(Buffer.from(body, 'base64url'));
  return claims.exp > Date.now() / 1000 ? claims : null;
}
function cookie(req, name) {
  for (const part of (req.headers.cookie || '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return decodeURIComponent(part.slice(i + 1).trim());
  }
  return null;
}
function openSession(res, sub, sid = crypto.randomUUID()) {
  const refresh = crypto.randomBytes(24).toString('base64url');
  sessions.set(refresh, { sid, sub });
  res.cookie(REFRESH_COOKIE, refresh, REFRESH_OPTS);
  const now = Math.floor(Date.now() / 1000);
  return { access_token: signJwt({ sub, sid, iat: now, exp: now + ACCESS_TTL }), token_type: 'Bearer', expires_in: ACCESS_TTL };
}

class AuthController {
  login(body, res) {
    const { username, password } = body || {};
    if (!username || !password || password === 'wrong') throw new UnauthorizedException();
    return openSession(res, String(username));
  }
  refresh(req, res) {
    const old = cookie(req, REFRESH_COOKIE);
    const session = old && sessions.get(old);
    if (!session) throw new UnauthorizedException();
    sessions.delete(old); // rotation: a refresh token is good once
    return openSession(res, session.sub, session.sid);
  }
  logout(req, res) {
    const old = cookie(req, REFRESH_COOKIE);
    if (old) sessions.delete(old);
    res.clearCookie(REFRESH_COOKIE, { path: REFRESH_OPTS.path });
    return { ok: true };
  }
  callback(code, res) {
    if (!code) throw new BadRequestException('missing code');
    openSession(res, `oidc-${code}`);
  }
  callbackPost(code, res) { return this.callback(code, res); }
}
decorateClass(AuthController, [Controller('auth')], {
  login: [[Post('login'), HttpCode(200)], [Body(), Res({ passthrough: true })]],
  refresh: [[Post('refresh'), HttpCode(200)], [Req(), Res({ passthrough: true })]],
  logout: [[Post('logout'), HttpCode(200)], [Req(), Res({ passthrough: true })]],
  // One handler per HTTP method: Nest keeps one method per handler.
  callback: [[Get('callback'), Redirect('/', 302)], [Query('code'), Res({ passthrough: true })]],
  callbackPost: [[Post('callback'), Redirect('/', 302)], [Query('code'), Res({ passthrough: true })]],
});

// The users API: checks the bearer token, then forwards to user-service and streams the answer.
class UsersController {
  list(req, res) { return forward(req, res, '/users', true); }
  create(req, res) { return forward(req, res, '/users'); }
  one(req, res) { return forward(req, res, `/users/${encodeURIComponent(req.params.id)}`); }
  replace(req, res) { return this.one(req, res); }
  patch(req, res) { return this.one(req, res); }
  remove(req, res) { return this.one(req, res); }
}
decorateClass(UsersController, [Controller('users')], {
  list: [[Get()], [Req(), Res()]],
  create: [[Post()], [Req(), Res()]],
  one: [[Get(':id')], [Req(), Res()]],
  replace: [[Put(':id')], [Req(), Res()]],
  patch: [[Patch(':id')], [Req(), Res()]],
  remove: [[Delete(':id')], [Req(), Res()]],
});

async function forward(req, res, path, chunked = false) {
  const auth = /^Bearer (.+)$/.exec(req.headers.authorization || '');
  if (!auth || !verifyJwt(auth[1])) return res.status(401).json({ statusCode: 401, message: 'Unauthorized' });
  let up;
  try {
    up = await fetch(flags.userService + path, {
      method: req.method,
      headers: { 'content-type': 'application/json' },
      body: ['POST', 'PUT', 'PATCH'].includes(req.method) ? JSON.stringify(req.body || {}) : undefined,
    });
  } catch (e) {
    return res.status(502).json({ statusCode: 502, message: 'user-service unreachable' });
  }
  res.status(up.status);
  const type = up.headers.get('content-type');
  if (type) res.setHeader('Content-Type', type);
  if (!chunked && up.headers.get('content-length')) res.setHeader('Content-Length', up.headers.get('content-length'));
  if (!up.body || up.status === 204) return res.end();
  Readable.fromWeb(up.body).pipe(res);
}

class HealthController { health() { return { status: 'ok' }; } }
decorateClass(HealthController, [Controller('health')], { health: [[Get()]] });

class AppModule {}
decorateClass(AppModule, [Module({ controllers: [AuthController, UsersController, HealthController, MetricsController] })]);

async function main() {
  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
  app.use(httpMetrics);
  stopOn(app);
  await app.listen(flags.port, flags.host);
  console.log(`api-gateway on http://${flags.host}:${flags.port} (user-service ${flags.userService})`);
}
main().catch((e) => { console.error(`api-gateway: ${e.message}`); process.exit(1); });
