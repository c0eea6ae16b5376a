'use strict';
// Oracle for signature_test.go (TestOracleNodeSDK): runs webhook-signature
// cases through Plivo's official Node SDK.
//
//   node sign.js <dir of node_modules/plivo> <cases.json>
//
// cases.json is an array of
//   {kind: "v3"|"v2", method, url, params: {key: [values]}, nonce, token, goSig}
// and stdout gets an array, in the same order, of
//   {valid, error, hmacs, sig, msg}
// where valid is what the SDK's validateV3Signature / validateSignature says
// of goSig (the signature computed by the Go package), error is what the SDK
// threw (if it did), and sig / msg are the signature the SDK computed and
// the UTF-8 bytes it signed (base64), taken from its HMAC.
//
// The SDK only exports the validators: the helpers that build the string to
// sign are private to dist/utils/v3Security.js. So nothing of the algorithm
// is re-implemented here: crypto.createHmac, which the SDK looks up on the
// crypto module at call time, is wrapped to watch what it hashes.
const fs = require('fs');
const crypto = require('crypto');

const [sdkDir, casesFile] = process.argv.slice(2);
const plivo = require(sdkDir);

let seen = null;
const createHmac = crypto.createHmac;
crypto.createHmac = function (alg, key, options) {
  const h = createHmac.call(this, alg, key, options);
  const update = h.update;
  const digest = h.digest;
  if (seen) seen.hmacs++;
  h.update = function (data, enc) {
    if (seen) seen.msg.push(Buffer.isBuffer(data) ? data : Buffer.from(data, enc));
    return update.call(this, data, enc);
  };
  h.digest = function (enc) {
    const d = digest.call(this, enc);
    if (seen) seen.sig = Buffer.isBuffer(d) ? d.toString('base64') : Buffer.from(d, enc).toString('base64');
    return d;
  };
  return h;
};

const cases = JSON.parse(fs.readFileSync(casesFile, 'utf8'));
const out = cases.map((c) => {
  seen = { hmacs: 0, msg: [], sig: '' };
  const r = { valid: false, error: '' };
  try {
    if (c.kind === 'v3') {
      r.valid = plivo.validateV3Signature(c.method, c.url, c.nonce, c.token, c.goSig, c.params);
    } else if (c.kind === 'v2') {
      r.valid = plivo.validateSignature(c.url, c.nonce, c.goSig, c.token);
    } else {
      throw new Error('unknown kind ' + c.kind);
    }
  } catch (e) {
    r.error = String((e && e.message) || e);
  }
  r.hmacs = seen.hmacs;
  r.sig = seen.sig;
  r.msg = Buffer.concat(seen.msg).toString('base64');
  seen = null;
  return r;
});
process.stdout.write(JSON.stringify(out));
