#!/usr/bin/env node
// Independent S3 client for the s3 sink's tests (@aws-sdk/client-s3), so objects written by the
// plugin are read back by code that shares nothing with it.
//
// usage: node s3check.js --env DIR/s3.env COMMAND ...
//   sha256 KEY          prints "<hex sha256> <size>" of the object (exit 3 when absent)
//   absent KEY          exit 0 when the object does not exist, 1 when it does
//   count PREFIX        prints the number of keys under PREFIX (paginates)
//   list PREFIX         prints the keys under PREFIX, one a line, in S3's order (paginates)
//   fetch PREFIX DIR    downloads every object under PREFIX into DIR (named by the key's last
//                       part) and prints the keys in S3's order
//   put KEY FILE        uploads FILE
//   get KEY FILE        downloads the object into FILE (exit 3 when absent)
'use strict';
const fs = require('fs');
const crypto = require('crypto');
const { S3Client, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } = require('@aws-sdk/client-s3');

const argv = process.argv.slice(2);
let envFile = null;
if (argv[0] === '--env') { envFile = argv[1]; argv.splice(0, 2); }
const env = { ...process.env };
if (envFile) {
  for (const line of fs.readFileSync(envFile, 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) env[m[1]] = m[2];
  }
}
process.removeAllListeners('warning'); // the SDK's Node 20 support notice is noise here
const client = new S3Client({
  endpoint: env.S3_ENDPOINT, region: env.S3_REGION || 'us-east-1', forcePathStyle: true,
  credentials: { accessKeyId: env.S3_ACCESS_KEY_ID, secretAccessKey: env.S3_SECRET_ACCESS_KEY },
  requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
});
const Bucket = env.S3_BUCKET;

async function main() {
  const [cmd, a, b] = argv;
  if (cmd === 'sha256') {
    try {
      const r = await client.send(new GetObjectCommand({ Bucket, Key: a }));
      const h = crypto.createHash('sha256');
      let n = 0;
      for await (const chunk of r.Body) { h.update(chunk); n += chunk.length; }
      console.log(h.digest('hex') + ' ' + n);
    } catch (e) {
      if (e.name === 'NoSuchKey') process.exit(3);
      throw e;
    }
  } else if (cmd === 'absent') {
    try {
      await client.send(new HeadObjectCommand({ Bucket, Key: a }));
      process.exit(1);
    } catch (e) {
      if (e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404) process.exit(0);
      throw e;
    }
  } else if (cmd === 'list') {
    let token;
    do {
      const r = await client.send(new ListObjectsV2Command({ Bucket, Prefix: a, ContinuationToken: token }));
      for (const o of r.Contents || []) console.log(o.Key);
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
  } else if (cmd === 'fetch') {
    let token;
    do {
      const r = await client.send(new ListObjectsV2Command({ Bucket, Prefix: a, ContinuationToken: token }));
      for (const o of r.Contents || []) {
        const g = await client.send(new GetObjectCommand({ Bucket, Key: o.Key }));
        fs.writeFileSync(b + '/' + o.Key.split('/').pop(), Buffer.from(await g.Body.transformToByteArray()));
        console.log(o.Key);
      }
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
  } else if (cmd === 'count') {
    let n = 0, token;
    do {
      const r = await client.send(new ListObjectsV2Command({ Bucket, Prefix: a, ContinuationToken: token }));
      n += (r.Contents || []).length;
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    console.log(String(n));
  } else if (cmd === 'get') {
    try {
      const r = await client.send(new GetObjectCommand({ Bucket, Key: a }));
      fs.writeFileSync(b, Buffer.from(await r.Body.transformToByteArray()));
    } catch (e) {
      if (e.name === 'NoSuchKey') process.exit(3);
      throw e;
    }
  } else if (cmd === 'put') {
    await client.send(new PutObjectCommand({ Bucket, Key: a, Body: fs.readFileSync(b) }));
  } else {
    console.error('unknown command ' + cmd);
    process.exit(2);
  }
}
main().catch((e) => { console.error('s3check: ' + (e.name || '') + ' ' + e.message); process.exit(4); });
