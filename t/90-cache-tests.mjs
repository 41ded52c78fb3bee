// t/90-cache-tests.t's helper for the cache-tests.fyi package at PACKAGE-DIR:
//   node 90-cache-tests.mjs serve PACKAGE-DIR
//     the suite's origin (server/server.mjs, port from npm_config_port), bound
//     to 127.0.0.1 only: the suite's own server listens on every address
//   node 90-cache-tests.mjs classify PACKAGE-DIR RESULTS.json
//     the outcome of every test in a results file as the suite's own pages
//     judge it (lib/display.mjs, dependencies honoured): "id outcome [detail]"
import fs from 'fs'
import http from 'http'
import path from 'path'
import { pathToFileURL } from 'url'

const [cmd, pkg, resultsFile] = process.argv.slice(2)
const mod = rel => import(pathToFileURL(path.join(pkg, rel)).href)

if (cmd === 'serve') {
  const listen = http.Server.prototype.listen
  http.Server.prototype.listen = function (port, ...rest) {
    return listen.call(this, port, '127.0.0.1', ...rest)
  }
  await mod('server/server.mjs')
} else if (cmd === 'classify') {
  await classify()
} else {
  console.error('usage: 90-cache-tests.mjs serve|classify PACKAGE-DIR [RESULTS.json]')
  process.exit(2)
}

async function classify () {
  const { default: suites } = await mod('tests/index.mjs')
  const { default: surrogate } = await mod('tests/surrogate-control.mjs')
  const display = await mod('lib/display.mjs')
  suites.push(surrogate) // as cli.mjs runs them

  // the display's glyphs, named
  const names = {
    '✅': 'pass',
    '⛔️': 'fail',
    '⚠️': 'optimal-fail',
    Y: 'yes',
    N: 'no',
    '🔹': 'setup-fail',
    '⁉️': 'harness-fail',
    '⚪️': 'dependency-fail',
    '↻': 'retry',
    '-': 'untested'
  }
  const results = JSON.parse(fs.readFileSync(resultsFile, 'utf8'))
  for (const suite of suites) {
    for (const test of suite.tests) {
      const glyph = display.determineTestResult(suites, test.id, results)[2]
      const detail = results[test.id] && typeof results[test.id][1] === 'string'
        ? results[test.id][1].replace(/\s+/g, ' ')
        : ''
      console.log(`${test.id} ${names[glyph] || 'unknown'}${detail ? ' ' + detail : ''}`)
    }
  }
}
