/**
 * The GitHub App side of the fake: an RSA key pair like the one GitHub generates for an App
 * (PKCS#1 PEM, the format of the file GitHub hands out), and verification of the RS256 JWT an
 * App signs to ask for an installation token (`iss` = App id, at most 10 minutes between `iat`
 * and `exp`, not expired). Error texts are GitHub's as reported by Octokit users.
 */
import { createPublicKey, generateKeyPair, verify, type KeyObject } from 'node:crypto';

export interface AppKey {
  readonly privateKeyPem: string;
  readonly publicKey: KeyObject;
}

export function generateAppKey(): Promise<AppKey> {
  return new Promise((resolve, reject) => {
    generateKeyPair('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } }, (err, publicKey, privateKey) => {
      if (err) reject(err);
      else resolve({ privateKeyPem: privateKey, publicKey: createPublicKey(publicKey) });
    });
  });
}

/** Undefined when the JWT is valid for this App; else the message GitHub answers with (401). */
export function jwtProblem(jwt: string, publicKey: KeyObject, appId: number, nowSeconds = Math.floor(Date.now() / 1000)): string | undefined {
  const undecodable = 'A JSON web token could not be decoded';
  const parts = jwt.split('.');
  if (parts.length !== 3) return undecodable;
  const [h, p, s] = parts as [string, string, string];
  let header: { alg?: unknown };
  let payload: { iat?: unknown; exp?: unknown; iss?: unknown };
  try {
    header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as { alg?: unknown };
    payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as { iat?: unknown; exp?: unknown; iss?: unknown };
  } catch {
    return undecodable;
  }
  if (header.alg !== 'RS256') return undecodable;
  if (!verify('RSA-SHA256', Buffer.from(`${h}.${p}`), publicKey, Buffer.from(s, 'base64url'))) return undecodable;
  if (typeof payload.iat !== 'number' || !Number.isInteger(payload.iat) || payload.iat > nowSeconds + 60) return "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued";
  if (typeof payload.exp !== 'number' || payload.exp <= nowSeconds) return "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires";
  if (payload.exp - payload.iat > 600) return "'Expiration time' claim ('exp') is too far in the future";
  if (String(payload.iss) !== String(appId)) return 'Integration not found';
  return undefined;
}
