// Copyright (c) xoauth2.mail contributors
// SPDX-License-Identifier: GPL-3.0-or-later
// Test-only OAuth2 / OIDC identity provider for the xoauth2.mail test stack.
//
// Wraps the `oidc-provider` package in a plain Node HTTPS server:
//   /idp/...        the provider (issuer = https://HOST:PORT/idp)
//   /interaction/.. our own minimal login + consent pages (device flow)
//   /control/...    JSON control API for tests (counters, faults, mint, revoke)
//   /idp/revoke     Google's revocation endpoint (token=, no client authentication, revokes the whole grant)
//
// Configuration comes from the environment (see tests/stack/stack.py):
//   IDP_HOST, IDP_PORT, IDP_ISSUER, IDP_TLS_CERT, IDP_TLS_KEY, IDP_FIXTURES,
//   IDP_GOOGLE_KEYS (public keys of the test service accounts, written by stack.py)
//
// Everything lives in memory: a restart forgets all tokens and grants.

import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import querystring from 'node:querystring';
import { fileURLToPath } from 'node:url';

import Provider from 'oidc-provider';

const here = path.dirname(fileURLToPath(import.meta.url));
const HOST = process.env.IDP_HOST || '127.0.0.1';
const PORT = Number(process.env.IDP_PORT || 9443);
const ISSUER = process.env.IDP_ISSUER || `https://${HOST}:${PORT}/idp`;
const MOUNT = new URL(ISSUER).pathname.replace(/\/$/, '');
const fixtures = JSON.parse(fs.readFileSync(process.env.IDP_FIXTURES || path.join(here, 'fixtures.json'), 'utf8'));
const ACCOUNTS = fixtures.accounts;
const CLIENTS = fixtures.clients;
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const SERVICE_ACCOUNTS = fixtures.service_accounts || {};
const TOKEN_URL = `${ISSUER}/token`;
// Clients that behave like Google's: the "google" ones of the fixtures and every service account.
const GOOGLE_CLIENTS = new Set([
  ...Object.entries(CLIENTS).filter(([, c]) => c.google).map(([id]) => id),
  ...Object.values(SERVICE_ACCOUNTS).map((sa) => sa.client_id),
]);

// ---------------------------------------------------------------- settings
const DEFAULT_SETTINGS = Object.freeze({
  access_token_ttl: 3600,
  client_credentials_ttl: null, // null: same as access_token_ttl
  refresh_token_ttl: 14 * 24 * 3600,
  device_code_ttl: 600,
  device_interval: 1,
});
let settings = { ...DEFAULT_SETTINGS };

// ---------------------------------------------------------------- counters
const COUNTED = ['token', 'discovery', 'introspection', 'device_authorization', 'revocation',
  'jwks', 'userinfo', 'device_verification', 'interaction', 'other'];
let counters;
function resetCounters() {
  counters = { token_by_grant_type: {}, token_by_client: {}, total: 0 };
  for (const k of COUNTED) counters[k] = 0;
}
resetCounters();

function classify(method, p) {
  if (p.startsWith('/interaction/')) return 'interaction';
  if (p !== MOUNT && !p.startsWith(`${MOUNT}/`)) return 'other';
  const sub = p.slice(MOUNT.length) || '/';
  switch (sub) {
    case '/token': return 'token';
    case '/.well-known/openid-configuration':
    case '/.well-known/oauth-authorization-server': return 'discovery';
    case '/token/introspection': return 'introspection';
    case '/token/revocation':
    case '/revoke': return 'revocation';
    case '/device/auth': return 'device_authorization';
    case '/jwks': return 'jwks';
    case '/me': return 'userinfo';
    default:
      if (sub === '/device' || sub.startsWith('/device/')) return 'device_verification';
      return 'other';
  }
}

// ------------------------------------------------------------------ faults
// [{endpoint, mode, status, body, headers, delay_ms, count}]
let faults = [];
const hung = new Set();

function takeFault(endpoint) {
  for (const f of faults) {
    if (f.count === 0) continue;
    if (f.endpoint !== endpoint && !(f.endpoint === 'any' && endpoint !== 'other')) continue;
    if (f.count > 0) f.count -= 1;
    if (f.count === 0) faults = faults.filter((x) => x !== f);
    return f;
  }
  return null;
}

function releaseHung() {
  for (const { req } of hung) req.socket.destroy();
  hung.clear();
}

function clearFaults() {
  faults = [];
  releaseHung();
}

function applyStatusFault(res, f) {
  const status = f.status || 500;
  let payload = f.body;
  if (payload === undefined) payload = { error: 'server_error', error_description: 'injected fault' };
  const headers = { ...(f.headers || {}) };
  let text;
  if (typeof payload === 'string') {
    text = payload;
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['Content-Type'] = 'text/plain; charset=utf-8';
  } else {
    text = JSON.stringify(payload);
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['Content-Type'] = 'application/json; charset=utf-8';
  }
  headers['Content-Length'] = Buffer.byteLength(text);
  res.writeHead(status, headers);
  res.end(text);
}

// --------------------------------------------------------- memory adapter
// A Map-backed adapter (oidc-provider's adapter interface) that also lets
// the control API find every artefact of an account / client / grant.
const stores = new Map(); // model name -> Map(id -> {payload, expiresAt})

function storeFor(name) {
  if (!stores.has(name)) stores.set(name, new Map());
  return stores.get(name);
}

function live(entry) {
  return entry && (!entry.expiresAt || entry.expiresAt > Date.now());
}

class MemoryAdapter {
  constructor(name) { this.name = name; this.store = storeFor(name); }

  async upsert(id, payload, expiresIn) {
    this.store.set(id, { payload: structuredClone(payload), expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : 0 });
  }

  async find(id) {
    const e = this.store.get(id);
    if (!live(e)) { this.store.delete(id); return undefined; }
    return structuredClone(e.payload);
  }

  async findByUserCode(userCode) {
    for (const [id, e] of this.store) if (e.payload.userCode === userCode) return this.find(id);
    return undefined;
  }

  async findByUid(uid) {
    for (const [id, e] of this.store) if (e.payload.uid === uid) return this.find(id);
    return undefined;
  }

  async consume(id) {
    const e = this.store.get(id);
    if (e) e.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) { this.store.delete(id); }

  async revokeByGrantId(grantId) {
    for (const [id, e] of this.store) if (e.payload.grantId === grantId) this.store.delete(id);
  }
}

function sweepExpired() {
  for (const store of stores.values()) {
    for (const [id, e] of store) if (!live(e)) store.delete(id);
  }
}
setInterval(sweepExpired, 60_000).unref();

// Delete every grant and token matching `pred(payload)`, plus everything
// bound to those grants. Returns the number of deleted entries.
function revokeWhere(pred) {
  const grantIds = new Set();
  let removed = 0;
  for (const store of stores.values()) {
    for (const [id, e] of store) {
      if (pred(e.payload)) {
        if (e.payload.grantId) grantIds.add(e.payload.grantId);
        if (e.payload.kind === 'Grant') grantIds.add(id);
        store.delete(id);
        removed += 1;
      }
    }
  }
  for (const store of stores.values()) {
    for (const [id, e] of store) {
      if (e.payload.grantId && grantIds.has(e.payload.grantId)) { store.delete(id); removed += 1; }
    }
  }
  return { removed, grants: grantIds.size };
}

// ------------------------------------------------------------- provider
function buildClients() {
  // A service account is a client too (its numeric ID), so its tokens are the provider's own models;
  // it has no grant type of oidc-provider's: the JWT bearer grant is answered by jwtBearer() below.
  const serviceAccounts = Object.values(SERVICE_ACCOUNTS).map((sa) => ({
    client_id: sa.client_id, grant_types: [], response_types: [], redirect_uris: [],
    token_endpoint_auth_method: 'none', application_type: 'native',
  }));
  return serviceAccounts.concat(Object.entries(CLIENTS).map(([id, c]) => {
    const grantTypes = c.grant_types || [];
    const meta = {
      client_id: id,
      client_name: id,
      grant_types: grantTypes,
      response_types: grantTypes.includes('authorization_code') ? ['code'] : [],
      redirect_uris: c.redirect_uris || (grantTypes.includes('authorization_code') ? ['http://127.0.0.1/callback', 'http://localhost/callback'] : []),
    };
    // Native clients (RFC 8252) may come back to a loopback redirect on any port.
    if (c.application_type) meta.application_type = c.application_type;
    if (c.secret) {
      meta.client_secret = c.secret;
      // client_secret_post is accepted too (oidc-provider accepts both for either)
      meta.token_endpoint_auth_method = 'client_secret_basic';
    } else {
      meta.token_endpoint_auth_method = 'none';
      meta.application_type = 'native';
    }
    return meta;
  }));
}

function signingKey() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: 'test-rs256', use: 'sig', alg: 'RS256' };
}

function findAccountSync(id) {
  const a = ACCOUNTS[id];
  if (!a) return undefined;
  return {
    accountId: id,
    async claims() {
      return { sub: id, email: id, email_verified: true, name: a.name || id, preferred_username: id };
    },
  };
}

const configuration = {
  adapter: MemoryAdapter,
  clients: buildClients(),
  jwks: { keys: [signingKey()] },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  scopes: fixtures.scopes,
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
  },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: {
      enabled: true,
      // confidential clients (dovecot, relays) may introspect any token
      allowedPolicy: async (ctx, client, token) => client.clientAuthMethod !== 'none' || token.clientId === client.clientId,
    },
    revocation: {
      enabled: true,
      allowedPolicy: async (ctx, client, token) => token.clientId === client.clientId,
    },
    userinfo: { enabled: true },
    deviceFlow: {
      enabled: true,
      charset: 'base-20',
      mask: '****-****',
      userCodeInputSource: async (ctx, form, out, err) => {
        const msg = err ? `<p class="error">${esc(err.name === 'AbortedError' ? 'The sign-in request was aborted.' : `Error: ${err.message || err.name}`)}</p>` : '<p>Enter the code shown on your device.</p>';
        ctx.body = page('Device sign-in', `${msg}${form}<button type="submit" form="op.deviceInputForm">Continue</button>`);
      },
      userCodeConfirmSource: async (ctx, form, client, deviceInfo, userCode) => {
        ctx.body = page('Confirm device', `<p>Client <strong>${esc(client.clientId)}</strong> wants to sign in with code <code id="user_code">${esc(userCode)}</code>.</p>${form}
<button type="submit" form="op.deviceConfirmForm">Continue</button>
<button type="submit" form="op.deviceConfirmForm" name="abort" value="yes">Abort</button>`);
      },
      successSource: async (ctx) => {
        ctx.body = page('Device sign-in complete', '<p id="device-success">Sign-in complete. You can close this page and return to your device.</p>');
      },
    },
  },
  interactions: {
    url: async (ctx, interaction) => `/interaction/${interaction.uid}`,
  },
  findAccount: async (ctx, sub) => findAccountSync(sub),
  extraTokenClaims: async (ctx, token) => {
    if (token.accountId) return { username: token.accountId };
    const mailbox = CLIENTS[token.clientId]?.mailbox;
    return mailbox ? { username: mailbox } : undefined;
  },
  // Google issues a refresh token for access_type=offline without an offline_access scope, and it does not
  // end with the browser session: clients marked "google" in the fixtures behave so.
  issueRefreshToken: async (ctx, client, code) => client.grantTypeAllowed('refresh_token')
    && (code.scopes.has('offline_access') || Boolean(CLIENTS[client.clientId]?.google)),
  expiresWithSession: async (ctx, code) => !code.scopes.has('offline_access') && !CLIENTS[code.clientId]?.google,
  rotateRefreshToken: true,
  ttl: {
    AccessToken: () => settings.access_token_ttl,
    ClientCredentials: () => settings.client_credentials_ttl ?? settings.access_token_ttl,
    RefreshToken: () => settings.refresh_token_ttl,
    Grant: () => Math.max(settings.refresh_token_ttl, 14 * 24 * 3600),
    DeviceCode: () => settings.device_code_ttl,
    IdToken: 3600,
    Interaction: 3600,
    Session: 14 * 24 * 3600,
  },
  renderError: async (ctx, out) => {
    ctx.type = 'html';
    ctx.body = page('Error', Object.entries(out).map(([k, v]) => `<p class="error"><strong>${esc(k)}</strong>: ${esc(v)}</p>`).join(''));
  },
};

const provider = new Provider(ISSUER, configuration);

provider.on('server_error', (ctx, err) => { console.error('server_error', ctx?.path, err); });

// Add `interval` and a human `message` to the device authorization response
// (oidc-provider sends neither; Microsoft sends both).
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path === '/device/auth' && ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
    ctx.body = {
      ...ctx.body,
      interval: settings.device_interval,
      message: `To sign in, use a web browser to open the page ${ctx.body.verification_uri} and enter the code ${ctx.body.user_code} to authenticate.`,
    };
  }
});

const providerCallback = provider.callback();

// ------------------------------------------------------------ HTML pages
function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

function page(title, inner) {
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${esc(title)}</title></head>
<body><h1>${esc(title)}</h1>
${inner}
</body></html>`;
}

function sendHtml(res, status, html) {
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(html) });
  res.end(html);
}

function loginPage(uid, params, error) {
  return page('Sign in', `${error ? `<p class="error" id="login-error">${esc(error)}</p>` : ''}
<p>Client <strong>${esc(params.client_id)}</strong> asks you to sign in.</p>
<form id="login" method="post" action="/interaction/${esc(uid)}/login">
<input type="text" name="login" placeholder="user@example.test" autofocus>
<input type="password" name="password" placeholder="password">
<button type="submit">Sign in</button>
</form>
<form id="abort" method="post" action="/interaction/${esc(uid)}/abort"><button type="submit">Cancel</button></form>`);
}

function consentPage(uid, params, details) {
  const scopes = [...(details.missingOIDCScope || [])].join(' ') || params.scope || '';
  return page('Consent', `<p>Client <strong>${esc(params.client_id)}</strong> asks for: <code id="scopes">${esc(scopes)}</code></p>
<form id="consent" method="post" action="/interaction/${esc(uid)}/confirm"><button type="submit">Allow</button></form>
<form id="abort" method="post" action="/interaction/${esc(uid)}/abort"><button type="submit">Deny</button></form>`);
}

async function interaction(req, res, p, body) {
  const m = p.match(/^\/interaction\/([^/]+)(?:\/(login|confirm|abort))?$/);
  if (!m) return sendHtml(res, 404, page('Not found', ''));
  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch (err) {
    return sendHtml(res, 400, page('Interaction error', `<p class="error">${esc(err.message)}</p>`));
  }
  const { uid, prompt, params } = details;
  const action = m[2];
  const form = body ? querystring.parse(body.toString('utf8')) : {};

  if (req.method === 'GET' && !action) {
    if (prompt.name === 'login') return sendHtml(res, 200, loginPage(uid, params));
    return sendHtml(res, 200, consentPage(uid, params, prompt.details));
  }
  if (req.method !== 'POST') return sendHtml(res, 405, page('Method not allowed', ''));

  if (action === 'abort') {
    return provider.interactionFinished(req, res, {
      error: 'access_denied', error_description: 'End-User aborted interaction',
    }, { mergeWithLastSubmission: false });
  }
  if (action === 'login') {
    const account = ACCOUNTS[form.login];
    if (!account || account.password !== form.password) {
      return sendHtml(res, 401, loginPage(uid, params, 'Invalid user name or password.'));
    }
    return provider.interactionFinished(req, res, { login: { accountId: form.login } }, { mergeWithLastSubmission: false });
  }
  if (action === 'confirm') {
    if (prompt.name !== 'consent') return sendHtml(res, 400, page('Unexpected', `<p class="error">prompt is ${esc(prompt.name)}</p>`));
    const { accountId } = details.session;
    let grant;
    if (details.grantId) grant = await provider.Grant.find(details.grantId);
    if (!grant) grant = new provider.Grant({ accountId, clientId: params.client_id });
    const d = prompt.details;
    if (d.missingOIDCScope) grant.addOIDCScope([...d.missingOIDCScope].join(' '));
    if (d.missingOIDCClaims) grant.addOIDCClaims([...d.missingOIDCClaims]);
    if (d.missingResourceScopes) {
      for (const [indicator, scopes] of Object.entries(d.missingResourceScopes)) grant.addResourceScope(indicator, [...scopes].join(' '));
    }
    const grantId = await grant.save();
    const consent = details.grantId ? {} : { grantId };
    return provider.interactionFinished(req, res, { consent }, { mergeWithLastSubmission: true });
  }
  return sendHtml(res, 404, page('Not found', ''));
}

// ------------------------------------------------------------ control API
function sendJson(res, status, obj) {
  const text = JSON.stringify(obj);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

async function mint({ client_id: clientId = 'device-public', account = 'alice@example.test', scope = 'openid offline_access mail.send mail.imap' }) {
  if (!ACCOUNTS[account]) throw Object.assign(new Error(`unknown account ${account}`), { status: 400 });
  const client = await provider.Client.find(clientId);
  if (!client) throw Object.assign(new Error(`unknown client ${clientId}`), { status: 400 });
  const scopes = new Set(String(scope).split(/\s+/).filter(Boolean));
  const grant = new provider.Grant({ accountId: account, clientId });
  grant.addOIDCScope([...scopes].join(' '));
  const grantId = await grant.save();
  const gty = 'device_code';
  const at = new provider.AccessToken({
    accountId: account, client, grantId, gty, scope: grant.getOIDCScopeFiltered(scopes),
  });
  const accessToken = await at.save();
  const out = {
    access_token: accessToken,
    token_type: 'Bearer',
    expires_in: at.expiration,
    scope: at.scope,
    grant_id: grantId,
  };
  // Google gives a refresh token (access_type=offline) without an offline_access scope
  if ((scopes.has('offline_access') || GOOGLE_CLIENTS.has(clientId)) && client.grantTypeAllowed('refresh_token')) {
    const rt = new provider.RefreshToken({
      accountId: account, client, grantId, gty, scope: [...scopes].filter((s) => grant.getOIDCScope().includes(s)).join(' '),
      iiat: Math.floor(Date.now() / 1000),
    });
    out.refresh_token = await rt.save();
  }
  return out;
}

async function introspectAny(token) {
  for (const model of [provider.AccessToken, provider.ClientCredentials, provider.RefreshToken]) {
    const t = await model.find(token);
    if (t) {
      let active = t.isValid && !t.consumed;
      if (active && t.grantId) active = Boolean(await provider.Grant.find(t.grantId));
      return { active, kind: t.kind, client_id: t.clientId, sub: t.accountId, scope: t.scope, exp: t.exp, ...(t.extra || {}) };
    }
  }
  return { active: false };
}

async function control(req, res, p, body) {
  let data = {};
  if (body && body.length) {
    try { data = JSON.parse(body.toString('utf8')); } catch { return sendJson(res, 400, { error: 'invalid JSON body' }); }
  }
  const route = `${req.method} ${p}`;
  try {
    switch (route) {
      case 'GET /control/health':
        return sendJson(res, 200, { ok: true, issuer: ISSUER, pid: process.pid });
      case 'GET /control/counters':
        return sendJson(res, 200, counters);
      case 'POST /control/reset':
        resetCounters();
        clearFaults();
        settings = { ...DEFAULT_SETTINGS };
        return sendJson(res, 200, { ok: true });
      case 'GET /control/fault':
        return sendJson(res, 200, { faults });
      case 'POST /control/fault': {
        const f = {
          endpoint: data.endpoint || 'any',
          mode: data.mode || 'status',
          status: data.status ?? 500,
          body: data.body,
          headers: data.headers || {},
          delay_ms: data.delay_ms ?? 0,
          count: data.count ?? -1,
        };
        if (!['token', 'discovery', 'introspection', 'device_authorization', 'revocation', 'jwks', 'userinfo', 'device_verification', 'interaction', 'any'].includes(f.endpoint)) {
          return sendJson(res, 400, { error: `unknown endpoint ${f.endpoint}` });
        }
        if (!['status', 'hang', 'reset', 'delay'].includes(f.mode)) return sendJson(res, 400, { error: `unknown mode ${f.mode}` });
        faults = faults.filter((x) => x.endpoint !== f.endpoint);
        if (f.count !== 0) faults.push(f);
        return sendJson(res, 200, { ok: true, faults });
      }
      case 'DELETE /control/fault':
        clearFaults();
        return sendJson(res, 200, { ok: true });
      case 'GET /control/config':
        return sendJson(res, 200, settings);
      case 'POST /control/config': {
        for (const [k, v] of Object.entries(data)) {
          if (!(k in DEFAULT_SETTINGS)) return sendJson(res, 400, { error: `unknown setting ${k}` });
          settings[k] = v;
        }
        return sendJson(res, 200, settings);
      }
      case 'POST /control/mint':
        return sendJson(res, 200, await mint(data));
      case 'POST /control/revoke': {
        if (data.account) return sendJson(res, 200, revokeWhere((pl) => pl.accountId === data.account));
        if (data.client_id) return sendJson(res, 200, revokeWhere((pl) => pl.clientId === data.client_id));
        if (data.grant_id) return sendJson(res, 200, revokeWhere((pl) => pl.grantId === data.grant_id || pl.jti === data.grant_id));
        return sendJson(res, 400, { error: 'give account, client_id or grant_id' });
      }
      case 'POST /control/introspect':
        return sendJson(res, 200, await introspectAny(String(data.token || '')));
      default:
        return sendJson(res, 404, { error: `no route ${route}` });
    }
  } catch (err) {
    return sendJson(res, err.status || 500, { error: err.message });
  }
}

// ------------------------------------------------------------ dispatcher
async function readBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return Buffer.concat(chunks);
}

function clientIdOf(req, form) {
  if (form.client_id) return String(form.client_id);
  const auth = req.headers.authorization || '';
  if (auth.toLowerCase().startsWith('basic ')) {
    const raw = Buffer.from(auth.slice(6), 'base64').toString('utf8');
    const i = raw.indexOf(':');
    if (i > 0) {
      try { return decodeURIComponent(raw.slice(0, i).replace(/\+/g, '%20')); } catch { return raw.slice(0, i); }
    }
  }
  return 'unknown';
}

// msal adds "openid profile offline_access" to every user-flow scope,
// also on refresh. oidc-provider rejects a refresh asking for a scope the
// refresh token lacks; drop only those reserved scopes (as Entra does).
const RESERVED = new Set(['openid', 'profile', 'offline_access']);
async function relaxRefreshScope(form) {
  if (form.grant_type !== 'refresh_token' || !form.scope || !form.refresh_token) return null;
  const rt = await provider.RefreshToken.find(String(form.refresh_token), { ignoreExpiration: true });
  if (!rt) return null;
  const have = new Set(String(rt.scope || '').split(' '));
  const wanted = String(form.scope).split(/\s+/).filter(Boolean);
  const kept = wanted.filter((s) => have.has(s) || !RESERVED.has(s));
  if (kept.length === wanted.length) return null;
  return { ...form, scope: kept.join(' ') || undefined };
}

// ------------------------------------------------ JWT bearer grant (Google)
// Google's service accounts with domain-wide delegation (RFC 7523). oidc-provider's token endpoint
// insists on client authentication, which this request does not carry (the signed assertion is the
// authentication), so the grant is answered here; its tokens are made with the provider's models, so
// introspection (Dovecot), revocation and the control API treat them like any other.
// Errors carry Google's shapes and descriptions.
const GOOGLE = {
  bad: 'Bad Request',
  signature: 'Invalid JWT Signature.',
  time: 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.',
  account: 'Invalid grant: account not found',
  user: 'Invalid email or User ID',
  scope: 'Empty or missing scope not allowed.',
  delegation: 'Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.',
};

function googlePublicKeys() {
  // Read on every request: stack.py may have written new keys since the IdP started.
  try {
    return JSON.parse(fs.readFileSync(process.env.IDP_GOOGLE_KEYS || '', 'utf8'));
  } catch {
    return {};
  }
}

function decodePart(part) {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

// The assertion's claims when its RS256 signature verifies with a key of its `iss`, else an error.
function verifiedClaims(assertion) {
  const parts = String(assertion || '').split('.');
  if (parts.length !== 3) return { error: ['invalid_grant', GOOGLE.bad] };
  let header;
  let claims;
  try {
    header = decodePart(parts[0]);
    claims = decodePart(parts[1]);
  } catch {
    return { error: ['invalid_grant', GOOGLE.bad] };
  }
  if (!SERVICE_ACCOUNTS[claims.iss]) return { error: ['invalid_grant', GOOGLE.account] };
  const pem = (googlePublicKeys()[claims.iss] || {})[header.kid];
  const signature = Buffer.from(parts[2], 'base64url');
  const signed = Buffer.from(`${parts[0]}.${parts[1]}`);
  if (header.alg !== 'RS256' || !pem || !crypto.verify('RSA-SHA256', signed, pem, signature)) {
    return { error: ['invalid_grant', GOOGLE.signature] };
  }
  return { claims };
}

function assertionError(claims) {
  const now = Math.floor(Date.now() / 1000);
  const { iat, exp } = claims;
  if (claims.aud !== TOKEN_URL) return [400, 'invalid_grant', `Invalid JWT: Failed audience check. The right audience is ${TOKEN_URL}`];
  if (!Number.isInteger(iat) || !Number.isInteger(exp) || exp <= iat || exp - iat > 3600 || iat > now + 300 || exp < now) {
    return [400, 'invalid_grant', GOOGLE.time];
  }
  if (!String(claims.scope || '').trim()) return [400, 'invalid_scope', GOOGLE.scope];
  if (!claims.sub || !ACCOUNTS[claims.sub]) return [400, 'invalid_grant', GOOGLE.user];
  const account = SERVICE_ACCOUNTS[claims.iss];
  const scopes = String(claims.scope).split(/\s+/).filter(Boolean);
  if (!account.delegated_mailboxes.includes(claims.sub) || !scopes.every((s) => account.delegated_scopes.includes(s))) {
    return [401, 'unauthorized_client', GOOGLE.delegation];
  }
  return null;
}

async function jwtBearer(res, form) {
  const { claims, error } = verifiedClaims(form.assertion);
  if (error) return sendJson(res, 400, { error: error[0], error_description: error[1] });
  const refused = assertionError(claims);
  if (refused) return sendJson(res, refused[0], { error: refused[1], error_description: refused[2] });
  const clientId = SERVICE_ACCOUNTS[claims.iss].client_id;
  const client = await provider.Client.find(clientId);
  const scope = String(claims.scope).split(/\s+/).filter(Boolean).join(' ');
  const grant = new provider.Grant({ accountId: claims.sub, clientId });
  grant.addOIDCScope(scope);
  const grantId = await grant.save();
  // accountId = the delegated mailbox: extraTokenClaims puts it in `username` for Dovecot.
  const at = new provider.AccessToken({ accountId: claims.sub, client, grantId, gty: 'jwt_bearer', scope });
  const accessToken = await at.save();
  return sendJson(res, 200, { access_token: accessToken, expires_in: at.expiration, token_type: 'Bearer' });
}

// ------------------------------------------------------ revocation (Google)
// Google's https://oauth2.googleapis.com/revoke: POST token=<access or refresh token> (form, or query), no
// client authentication; it ends the whole grant. A refresh afterwards answers invalid_grant "Token has been
// expired or revoked." (as for a refresh token that died after 7 days in "Testing"). Only the tokens of
// Google-flavoured clients (GOOGLE_CLIENTS) are known to this endpoint; oidc-provider's RFC 7009 endpoint
// (/idp/token/revocation) serves the others.
const GOOGLE_DEAD_GRANT = { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' };
const GOOGLE_UNKNOWN_TOKEN = { error: 'invalid_token', error_description: 'Token expired or revoked' };

// The token's live grant id, or null (unknown token, another client's, expired, or its grant is gone).
async function liveGoogleGrant(value, models) {
  if (!value) return null;
  for (const model of models) {
    const t = await model.find(String(value));
    if (t && GOOGLE_CLIENTS.has(t.clientId) && t.grantId && await provider.Grant.find(t.grantId)) return t.grantId;
  }
  return null;
}

async function googleRevoke(req, res, url, form) {
  if (req.method !== 'POST') return sendJson(res, 405, { error: 'invalid_request', error_description: 'Use POST.' });
  const grantId = await liveGoogleGrant(form.token || url.searchParams.get('token'),
    [provider.AccessToken, provider.RefreshToken]);
  if (!grantId) return sendJson(res, 400, GOOGLE_UNKNOWN_TOKEN);
  const { removed } = revokeWhere((pl) => pl.grantId === grantId || pl.jti === grantId);
  console.log(`google revoke: grant ended, ${removed} entries removed`);
  return sendJson(res, 200, {});
}

// Google's answer to a refresh with a dead refresh token, before oidc-provider words it its own way.
async function googleRefreshRefused(req, form) {
  if (form.grant_type !== 'refresh_token' || !GOOGLE_CLIENTS.has(clientIdOf(req, form))) return false;
  const rt = await provider.RefreshToken.find(String(form.refresh_token || ''));
  if (rt && rt.consumed) return false; // a replayed rotated token: oidc-provider's reuse detection answers
  return !(await liveGoogleGrant(form.refresh_token, [provider.RefreshToken]));
}

async function handle(req, res) {
  const started = process.hrtime.bigint();
  const url = new URL(req.url, 'https://internal');
  const p = url.pathname;
  res.on('finish', () => {
    if (p.startsWith('/control/')) return;
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    console.log(`${new Date().toISOString()} ${req.method} ${p} ${res.statusCode} ${ms.toFixed(1)}ms`);
  });

  let body = null;
  if (req.method !== 'GET' && req.method !== 'HEAD') body = await readBody(req);

  if (p.startsWith('/control/')) return control(req, res, p, body);

  const endpoint = classify(req.method, p);
  counters.total += 1;
  counters[endpoint] += 1;
  let form = {};
  const isForm = (req.headers['content-type'] || '').startsWith('application/x-www-form-urlencoded');
  if (body && isForm) form = querystring.parse(body.toString('utf8'));
  if (endpoint === 'token') {
    const gt = String(form.grant_type || 'none');
    counters.token_by_grant_type[gt] = (counters.token_by_grant_type[gt] || 0) + 1;
    const cid = clientIdOf(req, form);
    counters.token_by_client[cid] = (counters.token_by_client[cid] || 0) + 1;
  }

  const fault = takeFault(endpoint);
  if (fault) {
    console.log(`fault ${fault.mode} on ${endpoint} (${req.method} ${p})`);
    if (fault.mode === 'status') return applyStatusFault(res, fault);
    if (fault.mode === 'reset') { req.socket.destroy(); return undefined; }
    if (fault.mode === 'hang') {
      const entry = { req, res };
      hung.add(entry);
      req.socket.on('close', () => hung.delete(entry));
      return undefined;
    }
    if (fault.mode === 'delay') await new Promise((r) => { setTimeout(r, fault.delay_ms || 0); });
  }

  if (endpoint === 'token' && isForm && form.grant_type === JWT_BEARER_GRANT) return jwtBearer(res, form);
  if (endpoint === 'token' && isForm && await googleRefreshRefused(req, form)) return sendJson(res, 400, GOOGLE_DEAD_GRANT);
  if (p === `${MOUNT}/revoke`) return googleRevoke(req, res, url, form);
  if (p === MOUNT || p.startsWith(`${MOUNT}/`)) {
    if (endpoint === 'token' && isForm) {
      const relaxed = await relaxRefreshScope(form);
      if (relaxed) body = Buffer.from(querystring.stringify(relaxed));
    }
    req.originalUrl = req.url;
    let rest = req.url.slice(MOUNT.length);
    if (!rest.startsWith('/')) rest = `/${rest}`;
    req.url = rest;
    if (body) req.body = body; // oidc-provider reads req.body when the stream was consumed
    return providerCallback(req, res);
  }
  if (endpoint === 'interaction') return interaction(req, res, p, body);
  return sendJson(res, 404, { error: 'not found' });
}

// Silence oidc-provider's one-time notice about our pre-read body.
const origWarn = console.warn;
console.warn = (...args) => {
  if (typeof args[0] === 'string' && args[0].includes('already parsed request body')) return;
  origWarn(...args);
};

const server = https.createServer({
  cert: fs.readFileSync(process.env.IDP_TLS_CERT),
  key: fs.readFileSync(process.env.IDP_TLS_KEY),
}, (req, res) => {
  handle(req, res).catch((err) => {
    console.error('unhandled', err);
    if (!res.headersSent) sendJson(res, 500, { error: 'internal', detail: String(err) });
    else res.destroy();
  });
});
server.keepAliveTimeout = 30_000;

server.listen(PORT, HOST, () => {
  console.log(`READY ${ISSUER} pid=${process.pid} node=${process.version}`);
});

function shutdown(sig) {
  console.log(`stopping on ${sig}`);
  releaseHung();
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
