// Azure Storage queue operations for the tests, signed with SharedKey by Node's own crypto (a
// second implementation of the signing microscaler does in C). Loopback only.
//   node azure_queue.js ENDPOINT ACCOUNT KEY create QUEUE | put QUEUE N | clear QUEUE
'use strict';
const crypto = require('crypto');
const http = require('http');

const [endpoint, account, key, op, queue, count] = process.argv.slice(2);
const base = new URL(endpoint);

function request(method, path, body) {
  return new Promise((resolve, reject) => {
    const date = new Date().toUTCString();
    const len = body ? Buffer.byteLength(body) : 0;
    const type = body ? 'application/xml' : '';
    const url = new URL(base.pathname.replace(/\/$/, '') + path, base);
    const headers = {'x-ms-date': date, 'x-ms-version': '2019-02-02'};
    const canonHeaders = Object.keys(headers).sort().map((h) => `${h}:${headers[h]}\n`).join('');
    let resource = `/${account}${url.pathname}`;
    [...url.searchParams.keys()].sort().forEach((k) => {
      resource += `\n${k}:${url.searchParams.get(k)}`;
    });
    const sts = [method, '', '', len ? String(len) : '', '', type, '', '', '', '', '', ''].join('\n') +
      '\n' + canonHeaders + resource;
    const sig = crypto.createHmac('sha256', Buffer.from(key, 'base64')).update(sts).digest('base64');
    headers.Authorization = `SharedKey ${account}:${sig}`;
    headers['Content-Length'] = len;
    if (type) headers['Content-Type'] = type;
    const req = http.request(url, {method, headers}, (res) => {
      let data = '';
      res.on('data', (c) => { data += c; });
      res.on('end', () => (res.statusCode < 300 ? resolve(data) : reject(new Error(`${res.statusCode} ${data}`))));
    });
    req.on('error', reject);
    req.end(body || undefined);
  });
}

(async () => {
  if (op === 'create') await request('PUT', `/${queue}`);
  else if (op === 'clear') await request('DELETE', `/${queue}/messages`);
  else if (op === 'put') {
    for (let i = 0; i < Number(count); i++) {
      await request('POST', `/${queue}/messages`, '<QueueMessage><MessageText>eA==</MessageText></QueueMessage>');
    }
  } else throw new Error(`unknown op ${op}`);
})().catch((e) => { console.error(e.message); process.exit(1); });
