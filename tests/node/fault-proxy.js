#!/usr/bin/env node
// Fault-injecting HTTP proxy for the s3 sink's tests. The first N requests that match get a
// fault; every other request is forwarded unchanged (Host included, so signatures still verify
// at the gate behind it).
//
// usage: node fault-proxy.js --listen PORT --upstream PORT --fail N
//            --mode 500|503|slowdown|slow|reset [--retry-after SECONDS] [--slow-ms MS]
//            [--method PUT] [--match REGEX] [--log FILE]
//   500       answers 500 InternalError
//   503       answers 503 ServiceUnavailable
//   slowdown  answers 503 SlowDown with Retry-After
//   slow      waits --slow-ms before forwarding (past the client's timeout); not forwarded when
//             the client closed the connection meanwhile
//   reset     reads the request and then closes the connection without an answer
//   cut       forwards, but closes the connection after --cut-bytes bytes of the answer's body
//   lost      forwards (the request takes effect), then closes the connection without an answer
'use strict';
const http = require('http');
const fs = require('fs');

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
}
const listen = Number(arg('--listen'));
const upstream = Number(arg('--upstream'));
let remaining = Number(arg('--fail', '0'));
const mode = arg('--mode', '503');
const retryAfter = arg('--retry-after', null);
const slowMs = Number(arg('--slow-ms', '5000'));
const cutBytes = Number(arg('--cut-bytes', '1000'));
const method = arg('--method', null);
const match = arg('--match', null) ? new RegExp(arg('--match')) : null;
const logFile = arg('--log', null);

function log(obj) {
  if (logFile) fs.appendFileSync(logFile, JSON.stringify(obj) + '\n');
}

function errorDoc(code, message) {
  return '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>' + code + '</Code><Message>' + message +
    '</Message><RequestId>fault-proxy</RequestId></Error>';
}

function forward(req, body, res, cut) {
  const up = http.request({ host: '127.0.0.1', port: upstream, method: req.method, path: req.url, headers: req.headers, agent: false }, (ur) => {
    // hop-by-hop headers stay on their hop: the upstream connection closes after each request,
    // the client's stays alive
    const h = { ...ur.headers };
    delete h.connection;
    delete h['keep-alive'];
    res.writeHead(ur.statusCode, h);
    if (cut === undefined) return ur.pipe(res);
    let sent = 0;
    ur.on('data', (c) => {
      if (sent >= cut) return;
      const n = Math.min(c.length, cut - sent);
      res.write(c.subarray(0, n));
      sent += n;
      if (sent >= cut) {
        ur.destroy();
        setTimeout(() => res.socket && res.socket.destroy(), 50);
      }
    });
    ur.on('end', () => { if (sent < cut) res.end(); });
  });
  up.on('error', () => res.destroy());
  up.end(body);
}

http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const hit = remaining > 0 && (!method || req.method === method) && (!match || match.test(req.url));
    if (hit) remaining--;
    log({ method: req.method, url: req.url, bytes: body.length, fault: hit ? mode : null });
    if (!hit) return forward(req, body, res);
    const send = (status, code, msg, extra) => {
      const doc = errorDoc(code, msg);
      res.writeHead(status, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(doc), ...extra });
      res.end(doc);
    };
    switch (mode) {
      case '500': return send(500, 'InternalError', 'We encountered an internal error. Please try again.', {});
      case '503': return send(503, 'ServiceUnavailable', 'Please reduce your request rate.', {});
      case 'slowdown':
        return send(503, 'SlowDown', 'Please reduce your request rate.', retryAfter ? { 'Retry-After': retryAfter } : {});
      case 'slow':
        // A client that gave up (or died) meanwhile gets nothing forwarded: a request takes
        // effect when the server gets it, not seconds after its client is gone.
        return setTimeout(() => {
          if (req.socket.destroyed) return log({ method: req.method, url: req.url, dropped: true });
          forward(req, body, res);
        }, slowMs);
      case 'reset': return req.socket.destroy();
      case 'cut': return forward(req, body, res, cutBytes);
      case 'lost': {
        const up = http.request({ host: '127.0.0.1', port: upstream, method: req.method, path: req.url, headers: req.headers, agent: false }, (ur) => {
          ur.resume();
          ur.on('end', () => req.socket.destroy());
        });
        up.on('error', () => req.socket.destroy());
        return up.end(body);
      }
      default: return send(500, 'InternalError', 'unknown fault mode', {});
    }
  });
}).listen(listen, '127.0.0.1');
