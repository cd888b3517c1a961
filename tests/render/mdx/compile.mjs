// Compile each Markdown file named on the command line as MDX; print one line per file that
// fails (file:line:column: message) and exit 1 if any did. Besides syntax errors, an
// expression (`{...}`, which may compile but fails when the page is shown, as `{{ host }}`
// does: `host` is not defined) and any JSX other than an `<a id>` anchor and a footnote mark
// (`<sup>`, `<sub>`) are failures.
import {compile} from '@mdx-js/mdx'
import {readFileSync} from 'node:fs'

function refuseExpressions() {
  const walk = (node) => {
    const jsx = node.type === 'mdxJsxFlowElement' || node.type === 'mdxJsxTextElement'
    const anchor = jsx && node.name === 'a' && node.attributes.every((a) => a.name === 'id')
    const mark = jsx && ['sup', 'sub'].includes(node.name) && node.attributes.length === 0
    if (node.type.startsWith('mdx') && !anchor && !mark) {
      const where = node.position.start
      throw Object.assign(new Error(`${node.type} in the page`), where)
    }
    for (const child of node.children || []) walk(child)
  }
  return walk
}

let failed = 0
for (const file of process.argv.slice(2)) {
  try {
    await compile(readFileSync(file, 'utf8'), {remarkPlugins: [refuseExpressions]})
  } catch (error) {
    failed++
    console.log(`${file}:${error.line}:${error.column}: ${error.message.split('\n')[0]}`)
  }
}
console.log(`${process.argv.length - 2 - failed} compiled, ${failed} failed`)
process.exit(failed ? 1 : 0)
