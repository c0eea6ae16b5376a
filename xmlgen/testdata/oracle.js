'use strict';
// Oracle for oracle_test.go (TestOracleNodeSDK): builds XML documents with
// the XML builder of Plivo's official Node SDK.
//
//   node oracle.js <dir of node_modules/plivo> <cases.json>
//
// cases.json is an array of documents, each an array of elements
//   {name, attrs: [{name, value}], text, children: [element]}
// (attrs in order; value a string, number or boolean as a Node user would
// pass it; text absent when the element has none). stdout gets an array,
// in the same order, of {xml} (plivo.Response().toXML()) or {error} (what
// the SDK threw, whatever it was: the Speak voice check, for one, crashes
// with a TypeError instead of a validation error).
//
// Nothing here re-implements the SDK: each element is added with the SDK's
// own add<Element> method on its parent, the way the SDK documents.
const fs = require('fs');

const [sdkDir, casesFile] = process.argv.slice(2);
const plivo = require(sdkDir);

// The SDK method that adds each element to its parent, and its arguments:
// 'body' = (text, attributes), 'attrs' = (attributes), 'text' = (text)
// only, 'none' = ().
const adders = {
  Speak: ['addSpeak', 'body'],
  Play: ['addPlay', 'body'],
  Wait: ['addWait', 'attrs'],
  DTMF: ['addDTMF', 'body'],
  GetDigits: ['addGetDigits', 'attrs'],
  GetInput: ['addGetInput', 'attrs'],
  Dial: ['addDial', 'attrs'],
  Number: ['addNumber', 'body'],
  User: ['addUser', 'body'],
  Conference: ['addConference', 'body'],
  MultiPartyCall: ['addMultiPartyCall', 'body'],
  Record: ['addRecord', 'attrs'],
  Redirect: ['addRedirect', 'body'],
  Hangup: ['addHangup', 'attrs'],
  PreAnswer: ['addPreAnswer', 'none'],
  Stream: ['addStream', 'body'],
  Message: ['addMessage', 'body'],
  break: ['addBreak', 'attrs'],
  emphasis: ['addEmphasis', 'body'],
  lang: ['addLang', 'body'],
  p: ['addP', 'text'],
  phoneme: ['addPhoneme', 'body'],
  prosody: ['addProsody', 'body'],
  s: ['addS', 'text'],
  'say-as': ['addSayAs', 'body'],
  sub: ['addSub', 'body'],
  w: ['addW', 'body'],
};

function add(parent, el) {
  const adder = adders[el.name];
  if (!adder) {
    throw new Error('the SDK has no method for <' + el.name + '>');
  }
  const [method, shape] = adder;
  if (typeof parent[method] !== 'function') {
    throw new Error('the SDK element has no ' + method);
  }
  const attrs = {};
  for (const a of el.attrs || []) {
    attrs[a.name] = a.value;
  }
  const text = el.text === undefined || el.text === null ? '' : el.text;
  let child;
  switch (shape) {
    case 'body':
      child = parent[method](text, attrs);
      break;
    case 'attrs':
      if (text !== '') {
        throw new Error(method + ' takes no text');
      }
      child = parent[method](attrs);
      break;
    case 'text':
      if (Object.keys(attrs).length > 0) {
        throw new Error(method + ' takes no attributes');
      }
      child = parent[method](text);
      break;
    case 'none':
      if (Object.keys(attrs).length > 0 || text !== '') {
        throw new Error(method + ' takes no attributes or text');
      }
      child = parent[method]();
      break;
  }
  for (const c of el.children || []) {
    add(child, c);
  }
}

const cases = JSON.parse(fs.readFileSync(casesFile, 'utf8'));
const out = cases.map((doc) => {
  try {
    const r = plivo.Response();
    for (const el of doc) {
      add(r, el);
    }
    return { xml: r.toXML() };
  } catch (e) {
    return { error: (e && e.constructor ? e.constructor.name + ': ' : '') + String(e && e.message !== undefined ? e.message : e) };
  }
});
process.stdout.write(JSON.stringify(out));
