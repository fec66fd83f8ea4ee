#!/usr/bin/env node
// Strict SigV4-verifying reverse proxy in front of s3rver (which does not check signatures).
// It recomputes every request's signature with @smithy/signature-v4 from the headers the
// request says it signed, checks the payload hash and body digests, and forwards only requests
// that AWS would accept. Errors are S3-style XML documents.
//
// usage: node sigv4-gate.js --listen PORT --upstream PORT [--creds AK:SK[:TOKEN],...]
//                           [--vhost-suffix localhost] [--log FILE]
//                           [--tls-cert PEM --tls-key PEM]   (serve HTTPS)
// Virtual-hosted requests (Host: <bucket>.<vhost-suffix>[:port]) are verified as sent and
// forwarded to s3rver in path style.
'use strict';
const http = require('http');
const https = require('https');
const crypto = require('crypto');
const fs = require('fs');
const { SignatureV4 } = require('@smithy/signature-v4');

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
}
const listen = Number(arg('--listen'));
const upstream = Number(arg('--upstream'));
const vhostSuffix = arg('--vhost-suffix', 'localhost');
const logFile = arg('--log', null);
const creds = {};
for (const c of arg('--creds', 'S3RVER:S3RVER').split(',')) {
  const [ak, sk, token] = c.split(':');
  creds[ak] = { sk, token };
}

class Sha256 {
  constructor(secret) {
    this.h = secret ? crypto.createHmac('sha256', secret) : crypto.createHash('sha256');
  }
  update(d) { this.h.update(d); }
  async digest() { return new Uint8Array(this.h.digest()); }
}

function log(obj) {
  if (logFile) fs.appendFileSync(logFile, JSON.stringify(obj) + '\n');
}

// A refusal: sent by the request handler after it has been logged (tests read the log as soon
// as they have the answer).
function reject(res, status, code, message, resource) {
  return { status, code, message, resource };
}

function send(res, v) {
  const body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>' + v.code + '</Code><Message>' +
    v.message + '</Message><Resource>' + v.resource + '</Resource><RequestId>sigv4-gate</RequestId></Error>';
  res.writeHead(v.status, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

const AUTH_RE = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;

function parseQuery(raw) {
  const q = {};
  if (!raw) return q;
  for (const part of raw.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const k = decodeURIComponent(eq < 0 ? part : part.slice(0, eq));
    const v = eq < 0 ? '' : decodeURIComponent(part.slice(eq + 1));
    if (k in q) q[k] = [].concat(q[k], v); else q[k] = v;
  }
  return q;
}

async function verify(req, body, res) {
  const url = req.url;
  const qi = url.indexOf('?');
  const rawPath = qi < 0 ? url : url.slice(0, qi);
  const rawQuery = qi < 0 ? '' : url.slice(qi + 1);
  const auth = req.headers.authorization;
  if (!auth) return reject(res, 403, 'AccessDenied', 'Anonymous requests are not accepted by the gate', rawPath);
  const m = AUTH_RE.exec(auth);
  if (!m) return reject(res, 400, 'AuthorizationHeaderMalformed', 'The authorization header is malformed', rawPath);
  const [, ak, day, region, service, signedList, signature] = m;
  const cred = creds[ak];
  if (!cred) return reject(res, 403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', rawPath);
  const amzDate = req.headers['x-amz-date'];
  if (!amzDate || !/^\d{8}T\d{6}Z$/.test(amzDate) || amzDate.slice(0, 8) !== day)
    return reject(res, 403, 'AccessDenied', 'x-amz-date missing, malformed or not matching the credential scope', rawPath);
  const when = Date.UTC(+amzDate.slice(0, 4), +amzDate.slice(4, 6) - 1, +amzDate.slice(6, 8),
    +amzDate.slice(9, 11), +amzDate.slice(11, 13), +amzDate.slice(13, 15));
  if (Math.abs(Date.now() - when) > 15 * 60 * 1000)
    return reject(res, 403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.', rawPath);
  const signed = signedList.split(';');
  for (const need of ['host', 'x-amz-date', 'x-amz-content-sha256'])
    if (!signed.includes(need)) return reject(res, 403, 'AccessDenied', 'Header ' + need + ' must be signed', rawPath);
  for (const h of Object.keys(req.headers))
    if (h.startsWith('x-amz-') && !signed.includes(h))
      return reject(res, 403, 'AccessDenied', 'There were headers present in the request which were not signed: ' + h, rawPath);
  if (cred.token !== undefined && req.headers['x-amz-security-token'] !== cred.token)
    return reject(res, 403, 'InvalidToken', 'The provided token is malformed or otherwise invalid.', rawPath);
  const headers = {};
  for (const h of signed) {
    const v = req.headersDistinct[h];
    if (v === undefined) return reject(res, 403, 'SignatureDoesNotMatch', 'Signed header ' + h + ' is missing from the request', rawPath);
    headers[h] = v.join(',');
  }
  const contentSha = req.headers['x-amz-content-sha256'];
  if (contentSha.startsWith('STREAMING-'))
    return reject(res, 501, 'NotImplemented', 'aws-chunked uploads are not supported by the gate', rawPath);
  if (contentSha !== 'UNSIGNED-PAYLOAD') {
    const actual = crypto.createHash('sha256').update(body).digest('hex');
    if (actual !== contentSha)
      return reject(res, 400, 'XAmzContentSHA256Mismatch', 'The provided x-amz-content-sha256 header does not match what was computed.', rawPath);
  }
  if (req.headers['content-md5'] !== undefined &&
      crypto.createHash('md5').update(body).digest('base64') !== req.headers['content-md5'])
    return reject(res, 400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.', rawPath);
  if (req.headers['x-amz-checksum-sha256'] !== undefined &&
      crypto.createHash('sha256').update(body).digest('base64') !== req.headers['x-amz-checksum-sha256'])
    return reject(res, 400, 'BadDigest', 'The x-amz-checksum-sha256 you specified did not match what we received.', rawPath);

  const signer = new SignatureV4({
    service, region, sha256: Sha256, uriEscapePath: false, applyChecksum: false,
    credentials: { accessKeyId: ak, secretAccessKey: cred.sk },
  });
  const host = req.headers.host || '';
  const out = await signer.sign({
    method: req.method, protocol: 'http:', hostname: host.replace(/:\d+$/, ''),
    path: rawPath, query: parseQuery(rawQuery), headers,
  }, { signingDate: new Date(when), signingRegion: region, signingService: service, signableHeaders: new Set(signed) });
  const want = /Signature=([0-9a-f]{64})/.exec(out.headers.authorization)[1];
  const wantList = /SignedHeaders=([^,]+)/.exec(out.headers.authorization)[1];
  if (want !== signature || wantList !== signedList)
    return reject(res, 403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.', rawPath);
  return null;
}

function forward(req, body, res) {
  let path = req.url;
  const host = (req.headers.host || '').replace(/:\d+$/, '');
  if (vhostSuffix && host.endsWith('.' + vhostSuffix)) {
    path = '/' + host.slice(0, -(vhostSuffix.length + 1)) + path;
  }
  const headers = { ...req.headers, host: '127.0.0.1:' + upstream };
  delete headers['expect'];
  // agent: false - a fresh upstream connection per request; reusing an idle one races with
  // s3rver's 5 s keep-alive timeout (EPIPE on large bodies).
  const up = http.request({ host: '127.0.0.1', port: upstream, method: req.method, path, headers, agent: false }, (ur) => {
    // hop-by-hop headers stay on their hop: the upstream connection closes after each request,
    // the client's stays alive
    const h = { ...ur.headers };
    delete h.connection;
    delete h['keep-alive'];
    res.writeHead(ur.statusCode, h);
    ur.pipe(res);
  });
  up.on('error', (e) => {
    if (!res.headersSent) send(res, reject(res, 503, 'ServiceUnavailable', 'upstream: ' + e.code, path));
    else res.destroy();
  });
  up.end(body);
}

const tlsCert = arg('--tls-cert', null);
const handler = (req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const body = Buffer.concat(chunks);
    let verdict;
    try {
      verdict = await verify(req, body, res);
    } catch (e) {
      verdict = reject(res, 500, 'InternalError', 'gate: ' + e.message, req.url);
    }
    log({ method: req.method, url: req.url, bytes: body.length, conn: req.socket.remotePort,
          verdict: verdict ? verdict.code : 'ok' });
    if (verdict) send(res, verdict); else forward(req, body, res);
  });
};
const server = tlsCert
  ? https.createServer({ cert: fs.readFileSync(tlsCert), key: fs.readFileSync(arg('--tls-key')) }, handler)
  : http.createServer(handler);
server.keepAliveTimeout = 30000;
server.listen(listen, '127.0.0.1');
