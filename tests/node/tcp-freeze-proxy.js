#!/usr/bin/env node
// TCP proxy that can freeze: a network path that stays open (the kernel still acknowledges) but
// delivers nothing, like a stalled NAT or a hung middlebox. For the PostgreSQL source's receive
// deadline test.
//
// usage: node tcp-freeze-proxy.js --upstream PORT --port-file FILE
//   listens on a free 127.0.0.1 port and writes it to FILE;
//   SIGUSR1 freezes every connection, old and new (no byte is forwarded either way);
//   SIGUSR2 thaws them (what was held back is delivered).
'use strict';
const net = require('net');
const fs = require('fs');

function arg(name) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}
const upstream = Number(arg('--upstream'));
const portFile = arg('--port-file');
let frozen = false;
const links = new Set(); // one direction of one connection: {from, to, held}

function link(from, to) {
  const l = { from, to, held: [] };
  links.add(l);
  from.on('data', (c) => {
    if (frozen) {
      l.held.push(c);
      from.pause();
    } else {
      to.write(c);
    }
  });
  from.on('close', () => { links.delete(l); to.destroy(); });
  from.on('error', () => from.destroy());
  if (frozen) from.pause();
}

net.createServer((client) => {
  const up = net.connect(upstream, '127.0.0.1');
  link(client, up);
  link(up, client);
}).listen(0, '127.0.0.1', function () {
  fs.writeFileSync(portFile + '.tmp', String(this.address().port));
  fs.renameSync(portFile + '.tmp', portFile);
});

process.on('SIGUSR1', () => {
  frozen = true;
  for (const l of links) l.from.pause();
});
process.on('SIGUSR2', () => {
  frozen = false;
  for (const l of links) {
    for (const c of l.held) l.to.write(c);
    l.held = [];
    l.from.resume();
  }
});
