// Download one object with the independent AWS SDK client (the engine's tests read back what the
// s3 sink wrote through code that shares nothing with it).
// usage: node s3get.js --env DIR/s3.env KEY OUTFILE     (exit 3 when the object is absent)
'use strict';
const fs = require('fs');
const { S3Client, GetObjectCommand } = require('@aws-sdk/client-s3');

const argv = process.argv.slice(2);
const env = { ...process.env };
if (argv[0] === '--env') {
  for (const line of fs.readFileSync(argv[1], 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) env[m[1]] = m[2].replace(/^'(.*)'$/, '$1');
  }
  argv.splice(0, 2);
}
process.removeAllListeners('warning');
const client = new S3Client({
  endpoint: env.S3_ENDPOINT, region: env.S3_REGION || 'us-east-1', forcePathStyle: true,
  credentials: { accessKeyId: env.S3_ACCESS_KEY_ID, secretAccessKey: env.S3_SECRET_ACCESS_KEY },
  requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
});

async function main() {
  const [key, out] = argv;
  if (!key || !out) {
    console.error('usage: node s3get.js --env ENV KEY OUTFILE');
    process.exit(2);
  }
  try {
    // A bounded wait: s3rver writes objects in place, so a GET racing an overwrite can stall
    // on a body shorter than its Content-Length (real S3 replaces atomically). Callers retry.
    const abortSignal = AbortSignal.timeout(20000);
    const r = await client.send(new GetObjectCommand({ Bucket: env.S3_BUCKET, Key: key }), { abortSignal });
    const chunks = [];
    for await (const c of r.Body) chunks.push(c);
    fs.writeFileSync(out, Buffer.concat(chunks));
  } catch (e) {
    if (e.name === 'NoSuchKey') process.exit(3);
    console.error(`s3get: ${key}: ${e.name}: ${e.message}`);
    process.exit(1);
  }
}
main();
