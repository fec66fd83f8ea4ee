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
// Conditional writes (s3rver ignores them): If-None-Match: * and If-Match: <etag> on PutObject and
// CompleteMultipartUpload are evaluated here as AWS does (412 PreconditionFailed; If-Match on a
// missing object: 404 NoSuchKey), against a HEAD of the object upstream, with every write to one
// key serialized so that check and write are one step. The gate also insists that these headers
// are signed (AWS accepts them unsigned; a signer that leaves them out is a bug we want to see).
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
    if ((h.startsWith('x-amz-') || h === 'if-match' || h === 'if-none-match') && !signed.includes(h))
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

// The request's URL as s3rver wants it (path style).
function upstreamPath(req) {
  let path = req.url;
  const host = (req.headers.host || '').replace(/:\d+$/, '');
  if (vhostSuffix && host.endsWith('.' + vhostSuffix)) {
    path = '/' + host.slice(0, -(vhostSuffix.length + 1)) + path;
  }
  return path;
}

// Writes that replace an object (PutObject, CompleteMultipartUpload, DeleteObject), by the
// object's upstream path; UploadPart and the rest are not serialized.
function objectWriteKey(req) {
  const path = upstreamPath(req);
  const qi = path.indexOf('?');
  const p = qi < 0 ? path : path.slice(0, qi);
  const q = parseQuery(qi < 0 ? '' : path.slice(qi + 1));
  if (p.split('/').filter(Boolean).length < 2) return null; // bucket operations
  if (req.method === 'PUT' && !('uploadId' in q) && !('partNumber' in q)) return p;
  if (req.method === 'POST' && 'uploadId' in q) return p;
  if (req.method === 'DELETE' && !('uploadId' in q)) return p;
  return null;
}

const keyQueues = new Map(); // upstream path -> promise of the last write's end
function serialized(key, fn) {
  const prev = keyQueues.get(key) || Promise.resolve();
  const run = prev.then(fn, fn);
  const tail = run.catch(() => {});
  keyQueues.set(key, tail);
  tail.then(() => { if (keyQueues.get(key) === tail) keyQueues.delete(key); });
  return run;
}

function headUpstream(path) {
  return new Promise((resolve) => {
    const r = http.request({ host: '127.0.0.1', port: upstream, method: 'HEAD', path, headers: { host: '127.0.0.1:' + upstream }, agent: false }, (ur) => {
      ur.resume();
      ur.on('end', () => resolve({ status: ur.statusCode, etag: ur.headers.etag }));
    });
    r.on('error', () => resolve({ status: 0 }));
    r.end();
  });
}

const bareEtag = (e) => (e || '').trim().replace(/^W\//, '').replace(/^"|"$/g, '');

// null when the preconditions hold (or there are none), else the refusal AWS would send.
async function preconditions(req, key) {
  const im = req.headers['if-match'], inm = req.headers['if-none-match'];
  if (im === undefined && inm === undefined) return null;
  if (req.method === 'DELETE') return null;
  if (inm !== undefined && inm.trim() !== '*')
    return reject(null, 400, 'InvalidRequest', 'If-None-Match accepts only *', key);
  const head = await headUpstream(key);
  if (head.status !== 200 && head.status !== 404)
    return reject(null, 503, 'ServiceUnavailable', 'gate: HEAD upstream answered ' + head.status, key);
  const exists = head.status === 200;
  if (inm !== undefined && exists)
    return reject(null, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', key);
  if (im !== undefined && !exists)
    return reject(null, 404, 'NoSuchKey', 'The specified key does not exist.', key);
  if (im !== undefined && im.trim() !== '*' && bareEtag(im) !== bareEtag(head.etag))
    return reject(null, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', key);
  return null;
}

function forward(req, body, res) {
  const path = upstreamPath(req);
  const headers = { ...req.headers, host: '127.0.0.1:' + upstream };
  delete headers['expect'];
  // agent: false - a fresh upstream connection per request; reusing an idle one races with
  // s3rver's 5 s keep-alive timeout (EPIPE on large bodies).
  // s3rver would ignore them; the gate has evaluated them already
  delete headers['if-match'];
  delete headers['if-none-match'];
  return new Promise((done) => {
    const up = http.request({ host: '127.0.0.1', port: upstream, method: req.method, path, headers, agent: false }, (ur) => {
      // hop-by-hop headers stay on their hop: the upstream connection closes after each
      // request, the client's stays alive
      const h = { ...ur.headers };
      delete h.connection;
      delete h['keep-alive'];
      res.writeHead(ur.statusCode, h);
      ur.pipe(res);
      ur.on('end', done);
      ur.on('error', done);
    });
    up.on('error', (e) => {
      if (!res.headersSent) send(res, reject(res, 503, 'ServiceUnavailable', 'upstream: ' + e.code, path));
      else res.destroy();
      done();
    });
    up.end(body);
  });
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
    const key = verdict ? null : objectWriteKey(req);
    if (!key) {
      log({ method: req.method, url: req.url, bytes: body.length, conn: req.socket.remotePort,
            verdict: verdict ? verdict.code : 'ok' });
      if (verdict) send(res, verdict); else forward(req, body, res);
      return;
    }
    serialized(key, async () => {
      const pre = await preconditions(req, key);
      log({ method: req.method, url: req.url, bytes: body.length, conn: req.socket.remotePort,
            verdict: pre ? pre.code : 'ok', if_match: req.headers['if-match'],
            if_none_match: req.headers['if-none-match'] });
      if (pre) send(res, pre); else await forward(req, body, res);
    });
  });
};
const server = tlsCert
  ? https.createServer({ cert: fs.readFileSync(tlsCert), key: fs.readFileSync(arg('--tls-key')) }, handler)
  : http.createServer(handler);
server.keepAliveTimeout = 30000;
server.listen(listen, '127.0.0.1');
