// t/90-cache-tests.t's helper: the outcome of every cache-tests.fyi test in
// a results file, as the suite's own pages judge it (lib/display.mjs, with
// dependencies honoured), one "id outcome" line each.
//   node 90-cache-tests.mjs PACKAGE-DIR RESULTS.json
import fs from 'fs'
import path from 'path'
import { pathToFileURL } from 'url'

const [pkg, resultsFile] = process.argv.slice(2)
const mod = rel => import(pathToFileURL(path.join(pkg, rel)).href)

const { default: suites } = await mod('tests/index.mjs')
const { default: surrogate } = await mod('tests/surrogate-control.mjs')
const display = await mod('lib/display.mjs')
suites.push(surrogate)	// as cli.mjs runs them

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
