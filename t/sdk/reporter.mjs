// A node:test reporter for t/070-sdk.t: one JSON object per line, so the
// perl wrapper can turn every top-level test into one TAP assertion.
//
//   {"t":"result","ok":true|false,"name":"file: test","todo":null|"why",
//    "skip":null|"why","error":"message"}
//   {"t":"diag","text":"..."}            output of the tests, diagnostics

import path from 'node:path';

function errorText(err) {
    if (!err) return '';
    const lines = [];
    // node wraps the test's own error in a "testCodeFailure" error
    const e = err.failureType && err.cause ? err.cause : err;
    lines.push(String(e && e.stack ? e.stack : e));
    if (e && e.cause) lines.push(`cause: ${errorText(e.cause)}`);
    return lines.join('\n');
}

export default async function* reporter(source) {
    for await (const ev of source) {
        const d = ev.data || {};
        switch (ev.type) {
        case 'test:pass':
        case 'test:fail': {
            if (d.nesting !== 0) break;      // subtests count in their parent
            const file = d.file ? path.basename(d.file) : '?';
            const name = d.name === d.file ? file : `${file}: ${d.name}`;
            yield JSON.stringify({
                t: 'result',
                ok: ev.type === 'test:pass',
                name,
                todo: d.todo === undefined || d.todo === false
                      ? null : String(d.todo === true ? 'todo' : d.todo),
                skip: d.skip === undefined || d.skip === false
                      ? null : String(d.skip === true ? 'skip' : d.skip),
                error: ev.type === 'test:fail' ? errorText(d.details?.error)
                                                : '',
            }) + '\n';
            break;
        }
        case 'test:stdout':
        case 'test:stderr':
            yield JSON.stringify({ t: 'diag', text: String(d.message) })
                + '\n';
            break;
        default:
            break;
        }
    }
}
