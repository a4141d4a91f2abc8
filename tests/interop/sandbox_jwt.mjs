// Tokens shaped like the CDS Hooks sandbox's, signed with a P-384 test key of our own
// (the sandbox's private key is public, so it must never be trusted or copied here).
//
//   node sandbox_jwt.mjs keygen DIR     writes DIR/sandbox-test-key.pem and DIR/jwks.json
//   node sandbox_jwt.mjs sign DIR AUD   prints one token for the URL AUD
//
// Header: alg ES384, typ JWT, the sandbox's kid and jku. Claims: iss, aud = the exact
// URL called, iat, exp = iat + 300 s, jti; no sub (the sandbox sends none).
import { createPrivateKey, generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const identity = JSON.parse(readFileSync(new URL('./sandbox/identity.json', import.meta.url), 'utf8'));
const KEY_FILE = 'sandbox-test-key.pem';

export function generateTestKey(dir) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const jwk = { ...publicKey.export({ format: 'jwk' }), use: 'sig', kid: identity.kid, alg: identity.alg };
  writeFileSync(join(dir, KEY_FILE), privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(join(dir, 'jwks.json'), `${JSON.stringify({ keys: [jwk] }, null, 2)}\n`);
}

function base64url(value) {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export function signSandboxToken(dir, audience) {
  const key = createPrivateKey(readFileSync(join(dir, KEY_FILE)));
  const iat = Math.floor(Date.now() / 1000);
  const header = { alg: identity.alg, typ: 'JWT', kid: identity.kid, jku: identity.jku };
  const claims = { iss: identity.iss, aud: audience, iat, exp: iat + identity.lifetimeSeconds, jti: randomUUID() };
  const signingInput = `${base64url(header)}.${base64url(claims)}`;
  // JWS ES384 signatures are the raw r || s pair (RFC 7518 §3.4), not DER.
  const signature = sign('sha384', Buffer.from(signingInput), { key, dsaEncoding: 'ieee-p1363' });
  return `${signingInput}.${signature.toString('base64url')}`;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [command, dir, audience] = process.argv.slice(2);
  if (command === 'keygen' && dir) {
    generateTestKey(dir);
  } else if (command === 'sign' && dir && audience) {
    process.stdout.write(`${signSandboxToken(dir, audience)}\n`);
  } else {
    process.stderr.write('usage: sandbox_jwt.mjs keygen DIR | sign DIR AUD\n');
    process.exit(2);
  }
}
