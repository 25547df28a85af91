// Read .env files with Node dotenv and dotenvx; write {file: {node: ..., dotenvx: ...}} as JSON.
// Usage: node read.js OUT.json FILE...   Each reader gets the raw bytes, as config() would.
// dotenvx sees an empty process environment, so only the file's own keys are expanded.
'use strict'
const fs = require('fs')
const dotenv = require('dotenv')
const dotenvx = require('@dotenvx/dotenvx')

function attempt (read) {
  try {
    return { values: read() }
  } catch (error) {
    return { error: String(error && error.message) }
  }
}

const [out, ...files] = process.argv.slice(2)
const result = {}
for (const file of files) {
  const src = fs.readFileSync(file)
  result[file] = {
    node: attempt(() => dotenv.parse(src)),
    dotenvx: attempt(() => dotenvx.parse(src, { processEnv: {} }))
  }
}
fs.writeFileSync(out, JSON.stringify(result))
