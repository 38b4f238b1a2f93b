// The OpenAPI document (web/openapi.json) checked two ways:
//   node check.mjs DOC                validates it as OpenAPI 3.1 (@seriousme/openapi-schema-validator)
//   node check.mjs DOC ANSWERS.tsv    and then every answer recorded by tests/server_test.sh against it:
//     lines "METHOD<TAB>URL<TAB>STATUS<TAB>CONTENT-TYPE<TAB>BODY-FILE"; the route and method must be
//     documented, the status listed for it, the content type among that response's, and a JSON
//     body valid against that response's schema; a route not in the document must be a 404
//     with the documented error body.
// Prints one line per failure and "N answers checked"; exits 1 on any failure.
import { readFileSync } from 'node:fs';
import { Validator } from '@seriousme/openapi-schema-validator';
import Ajv2020 from 'ajv/dist/2020.js';

const [docPath, answersPath] = process.argv.slice(2);
const doc = JSON.parse(readFileSync(docPath, 'utf8'));
const res = await new Validator().validate(doc);
if (!res.valid) {
  console.log(`FAIL ${docPath} is not valid OpenAPI 3.1: ${JSON.stringify(res.errors).slice(0, 2000)}`);
  process.exit(1);
}
console.log(`ok   ${docPath}: valid OpenAPI ${doc.openapi}`);
if (!answersPath) process.exit(0);

const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addSchema({ $id: 'doc', components: doc.components });
const rewrite = (s) => JSON.parse(JSON.stringify(s).replaceAll('"#/components/', '"doc#/components/'));
const deref = (o) => (o && o.$ref ? o.$ref.split('/').slice(1).reduce((a, k) => a[k], doc) : o);

let failures = 0, n = 0;
const fail = (msg) => { failures++; console.log(`FAIL ${msg}`); };
for (const line of readFileSync(answersPath, 'utf8').split('\n')) {
  if (!line.trim()) continue;
  const [method, url, status, ctypeFull, bodyFile] = line.split('\t');
  const path = new URL(url).pathname;
  const what = `${method} ${path} ${status}`;
  n++;
  const item = doc.paths[path];
  if (!item) { // a route the document does not have must be the documented 404
    const e404 = deref(doc.components.responses.E404).content['application/json'];
    const validate = ajv.compile(rewrite(e404.schema));
    let body = null;
    try { body = JSON.parse(readFileSync(bodyFile, 'utf8')); } catch (_) { /* checked below */ }
    if (status !== '404' || !validate(body)) fail(`${what}: undocumented route not answered as the documented 404`);
    continue;
  }
  if (method === 'OPTIONS') continue; // CORS preflight: answered for every route, not an operation
  const op = item[method.toLowerCase()] || (method === 'HEAD' ? item.get : undefined);
  if (!op) {
    if (status !== '405') fail(`${what}: method not documented`);
    continue;
  }
  const resp = deref(op.responses[status] || op.responses.default);
  if (!resp) { fail(`${what}: status not documented (${Object.keys(op.responses).join(' ')})`); continue; }
  const ctype = (ctypeFull || '').split(';')[0].trim();
  if (!resp.content) { if (ctype && status !== '204') fail(`${what}: undocumented body ${ctype}`); continue; }
  const media = resp.content[ctype];
  if (!media) { fail(`${what}: content type '${ctype}' not among ${Object.keys(resp.content).join(', ')}`); continue; }
  if (ctype === 'application/json' && media.schema && bodyFile && method !== 'HEAD') {
    let body;
    try { body = JSON.parse(readFileSync(bodyFile, 'utf8')); } catch (e) { fail(`${what}: body is not JSON: ${e}`); continue; }
    const validate = ajv.compile(rewrite(media.schema));
    if (!validate(body)) fail(`${what}: body does not match its schema: ${ajv.errorsText(validate.errors)}`);
  }
}
console.log(`${n} answers checked against ${docPath}, ${failures} failed`);
process.exit(failures ? 1 : 0);
