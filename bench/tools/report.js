#!/usr/bin/env node
// Renders a results directory of bench/run: reads runs.jsonl and
// machine.txt, writes summary.json, summary.csv, tables.md (the tables for
// BENCHMARKS.md: medians over the repetitions with min-max) and latency.dat
// (gnuplot input for plot.gp).   usage: report.js RESULTS_DIR
'use strict';
const fs = require('fs');
const path = require('path');

const dir = process.argv[2];
if (!dir) {
    console.error('usage: report.js RESULTS_DIR');
    process.exit(2);
}
const runs = fs.readFileSync(path.join(dir, 'runs.jsonl'), 'utf8')
    .split('\n').filter(Boolean).map((l) => JSON.parse(l));
const machine = fs.existsSync(path.join(dir, 'machine.txt'))
    ? fs.readFileSync(path.join(dir, 'machine.txt'), 'utf8').trim() : '';

const NAMES = { proxy: 'nginx proxy_pass (1 call, lower bound)',
    moa: 'ngx_http_moa_module',
    'moa-n': 'ngx_http_moa_module, moa_proposer_n on (1 proposal call ' +
        'with n=3)',
    pass: 'module passthrough (1 call)',
    njs: 'njs MoA peer', node: 'Node.js MoA peer (openai SDK)',
    'mock-return': 'mock: nginx `return` (D=0)',
    'mock-njs': 'mock: njs (D=0)', 'mock-njs-sse': 'mock: njs SSE (D=0)' };
const name = (c) => NAMES[c] || (c.startsWith('mock-njs-d')
    ? `mock: njs (D=${c.slice(10)} ms)` : c);
const ORDER = ['mock-return', 'mock-njs', 'mock-njs-sse', 'moa', 'moa-n',
    'pass', 'proxy', 'njs', 'node'];
// the MoA contenders: a chain of 3 stages (moa-n: in 3 calls, not 5)
const MOA = new Set(['moa', 'moa-n', 'njs', 'node']);
const isMoa = (r) => MOA.has(r.contender) || r.calls === 5;
const order = (a, b) => {
    const ia = ORDER.indexOf(a), ib = ORDER.indexOf(b);
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
};

// per-run figures
for (const r of runs) {
    const sec = r.clk_tck ? r.cpu_ticks / r.clk_tck : 0;
    if (r.duration_us !== undefined && r.requests !== undefined &&
        r.scenario !== 'stream' && r.scenario !== 'inflight') {
        r.rps = r.requests / r.duration_us * 1e6;
        r.p50_ms = r.p50 / 1000;
        r.p99_ms = r.p99 / 1000;
        r.errors = r.err_status + r.err_timeout + r.err_connect +
            r.err_read + r.err_write;
        r.cpu_us = r.requests ? sec * 1e6 / r.requests : null;
        r.sched_us = r.requests && r.cpu_sched_ns !== undefined
            ? r.cpu_sched_ns / 1e3 / r.requests : null;
        r.cpu_pct = sec / (r.duration_us / 1e6) * 100;
        r.mock_cpu_pct = r.mock_cpu_ticks / r.clk_tck /
            (r.duration_us / 1e6) * 100;
        // the subject's core busy with anything but the subject: noise
        r.noise_pct = r.subject_core_busy_ticks === undefined ? null
            : Math.max(0, (r.subject_core_busy_ticks - r.cpu_ticks) /
                r.clk_tck / (r.duration_us / 1e6) * 100);
        // the physical limit: D for one call, 3D for a MoA chain
        const k = isMoa(r) ? 3 : 1;
        r.limit_ms = k * r.delay_ms;
        r.over_p50_ms = r.p50_ms - r.limit_ms;
        r.over_p99_ms = r.p99_ms - r.limit_ms;
    } else if (r.scenario === 'stream') {
        r.cpu_us = r.answered ? sec * 1e6 / r.answered : null;
        r.ttfb_p50_ms = r.ttfb_p50 === null ? null : r.ttfb_p50 / 1000;
        r.ttfb_p99_ms = r.ttfb_p99 === null ? null : r.ttfb_p99 / 1000;
    } else if (r.scenario === 'inflight') {
        r.kib_per_req = (r.rss_peak_kib - r.rss_base_kib) / r.requests;
        r.lat_p50_s = r.lat_p50 === null ? null : r.lat_p50 / 1e6;
        r.cpu_us = r.answered ? sec * 1e6 / r.answered : null;
    }
}

// medians over repetitions
const METRICS = ['rps', 'p50_ms', 'p99_ms', 'errors', 'cpu_us', 'sched_us',
    'cpu_pct', 'noise_pct',
    'mock_cpu_pct', 'over_p50_ms', 'over_p99_ms', 'ttfb_p50_ms',
    'ttfb_p99_ms', 'answered', 'not_streamed_stamp_missing',
    'rss_base_kib', 'rss_peak_kib', 'kib_per_req', 'lat_p50_s', 'requests',
    'limit_ms'];
const groups = new Map();
for (const r of runs) {
    const k = `${r.scenario}|${r.contender}|${r.conc}`;
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(r);
}
const summary = [];
for (const [k, rs] of groups) {
    const [scenario, contender, conc] = k.split('|');
    const s = { scenario, contender, conc: Number(conc), reps: rs.length,
        delay_ms: rs[0].delay_ms, calls: rs[0].calls };
    // in flight: the count asked for, and the descriptors a request holds
    // (the count is capped at what the fd limit allows)
    for (const m of ['asked', 'fds_per_req', 'nofile']) {
        if (rs[0][m] !== undefined) s[m] = rs[0][m];
    }
    for (const m of METRICS) {
        const v = rs.map((r) => r[m]).filter((x) => typeof x === 'number')
            .sort((a, b) => a - b);
        if (!v.length) continue;
        const mid = v.length >> 1;
        s[m] = { median: v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2,
            min: v[0], max: v[v.length - 1] };
    }
    summary.push(s);
}
summary.sort((a, b) => a.scenario.localeCompare(b.scenario) ||
    a.conc - b.conc || order(a.contender, b.contender));
const get = (sc, c, conc) => summary.find((s) => s.scenario === sc &&
    s.contender === c && (conc === undefined || s.conc === conc));

fs.writeFileSync(path.join(dir, 'summary.json'),
    JSON.stringify({ machine, summary }, null, 1) + '\n');
const cols = ['scenario', 'contender', 'conc', 'reps', 'delay_ms', 'calls'];
const csv = [cols.concat(METRICS.flatMap((m) => [`${m}_median`, `${m}_min`,
    `${m}_max`])).join(',')];
for (const s of summary) {
    csv.push(cols.map((c) => s[c]).concat(METRICS.flatMap((m) => s[m]
        ? [s[m].median, s[m].min, s[m].max].map((x) => +x.toFixed(3))
        : ['', '', ''])).join(','));
}
fs.writeFileSync(path.join(dir, 'summary.csv'), csv.join('\n') + '\n');

// markdown
const f = (x, d) => (x === undefined || x === null ? '-' : x.toFixed(d));
const mm = (m, d) => (m ? `${f(m.median, d)} (${f(m.min, d)}-${f(m.max, d)})`
    : '-');
const md = (m, d) => (m ? f(m.median, d) : '-');
const out = [];
const table = (head, rows) => {
    out.push('| ' + head.join(' | ') + ' |');
    out.push('|' + head.map(() => ' --- ').join('|') + '|');
    for (const r of rows) out.push('| ' + r.join(' | ') + ' |');
    out.push('');
};
const by = (sc) => summary.filter((s) => s.scenario === sc);
const reps = (sc) => Math.max(0, ...by(sc).map((s) => s.reps));

out.push('Machine and settings of this run:', '', '```', machine, '```', '');
out.push('Figures: median over the repetitions, (min-max) beside it. ' +
    'CPU is the subject\'s worker (Node: the whole process), ' +
    'utime+stime from /proc/PID/stat, divided by the requests answered.', '');

if (by('mock').length) {
    out.push(`### Mock provider alone (${reps('mock')} repetitions)`, '');
    out.push('The mock on its core, wrk on the other one: what it can ' +
        'serve, to compare with what the contenders ask of it.', '');
    table(['mock', 'clients', 'req/s', 'p50 ms', 'p99 ms',
        'mock CPU us/req', 'errors'],
        by('mock').map((s) => [name(s.contender), s.conc, mm(s.rps, 0),
            md(s.p50_ms, 2), md(s.p99_ms, 2), md(s.cpu_us, 1),
            md(s.errors, 0)]));
}

const proxyCpu = get('cpu', 'proxy') && get('cpu', 'proxy').cpu_us;
const moaCpu = get('cpu', 'moa') && get('cpu', 'moa').cpu_us;
if (by('cpu').length) {
    const conc = by('cpu')[0].conc;
    out.push(`### CPU per request at D=0 (${conc} clients, ` +
        `${reps('cpu')} repetitions)`, '');
    out.push('Nothing waits at D=0: each contender runs as fast as its ' +
        'core (or the mock, on the other core) allows. Floor: a MoA ' +
        'request is 5 provider exchanges, so 5 x the plain proxy\'s CPU ' +
        'per request; "/ floor" divides by calls x proxy CPU per request.', '');
    table(['contender', 'calls', 'req/s', 'worker CPU us/req',
        '(schedstat)', '/ floor', '/ module', 'worker CPU %', 'mock CPU %',
        'others on subject core %', 'p50 ms', 'p99 ms', 'errors'],
        by('cpu').map((s) => [name(s.contender), s.calls, mm(s.rps, 0),
            mm(s.cpu_us, 1), md(s.sched_us, 1),
            proxyCpu && s.cpu_us ? f(s.cpu_us.median /
                (s.calls * proxyCpu.median), 2) : '-',
            moaCpu && s.cpu_us && s.contender !== 'moa' &&
                isMoa(s) ? f(s.cpu_us.median / moaCpu.median, 1) +
                'x' : '-',
            md(s.cpu_pct, 0), md(s.mock_cpu_pct, 0), md(s.noise_pct, 0),
            md(s.p50_ms, 2),
            md(s.p99_ms, 2), md(s.errors, 0)]));
}

const concs = [...new Set(by('latency').map((s) => s.conc))]
    .sort((a, b) => a - b);
for (const conc of concs) {
    const rows = by('latency').filter((s) => s.conc === conc);
    out.push(`### Latency at D=${rows[0].delay_ms} ms, ${conc} clients ` +
        `(${reps('latency')} repetitions)`, '');
    if (conc === concs[0]) {
        out.push('"over limit" subtracts D (one call) or 3D (MoA). Each ' +
            'call through the mock costs a little more than D (its timers ' +
            'fire on a millisecond clock, and it answers a burst one by ' +
            'one): "over 3 x proxy p50" subtracts three plain proxied ' +
            'calls at the same concurrency instead, i.e. what remains for ' +
            'the MoA contender itself.', '');
    }
    const px = rows.find((s) => s.contender === 'proxy');
    const overProxy = (s) => (px && isMoa(s) ? f(s.p50_ms.median -
        3 * px.p50_ms.median, 1) : '-');
    table(['contender', 'limit ms', 'req/s', 'p50 ms', 'p99 ms',
        'p50 over limit', 'p99 over limit', 'p50 over 3 x proxy p50',
        'worker CPU us/req', '(schedstat)', 'errors'],
        rows.map((s) => [name(s.contender), md(s.limit_ms, 0), mm(s.rps, 0),
            mm(s.p50_ms, 1), mm(s.p99_ms, 1), md(s.over_p50_ms, 1),
            md(s.over_p99_ms, 1), overProxy(s), md(s.cpu_us, 1),
            md(s.sched_us, 1), md(s.errors, 0)]));
}

if (by('stream').length) {
    const s0 = runs.find((r) => r.scenario === 'stream');
    out.push(`### Streamed synthesis: first content byte (D=${s0.delay_ms}` +
        ` ms, ${s0.chunks} chunks ${s0.gap_ms} ms apart, ${s0.conc} ` +
        `clients, ${s0.requests} requests, ${reps('stream')} repetitions)`,
        '');
    out.push('Time from the provider writing the first content chunk to ' +
        'the client reading it (CLOCK_MONOTONIC stamp in the chunk).', '');
    table(['contender', 'TTFB p50 ms', 'TTFB p99 ms', 'answered', 'errors',
        'streams through?'],
        by('stream').map((s) => [name(s.contender), mm(s.ttfb_p50_ms, 2),
            mm(s.ttfb_p99_ms, 2), md(s.answered, 0), md(s.errors, 0),
            s.contender === 'njs' ? 'no: njs subrequests are buffered, ' +
                'the SSE is relayed whole' : 'yes']));
}

if (by('inflight').length) {
    const s0 = by('inflight')[0];
    out.push(`### In flight at D=${s0.delay_ms / 1000} s, one worker`, '');
    const cause = (c) => {
        const r = runs.find((x) => x.scenario === 'inflight' &&
            x.contender === c && x.error_samples && x.error_samples.length);
        return r ? r.error_samples[0].replace(/\|/g, '/').slice(0, 90) : '';
    };
    const capped = by('inflight').find((s) => s.asked > s.conc);
    if (capped) {
        out.push(`${capped.asked} requests were asked for. A worker may ` +
            `hold ${capped.nofile} descriptors here and an in-flight ` +
            'request holds "fds" of them (MoA: client + 3 proposal calls; ' +
            'moa_proposer_n on: client + 1 call with n=3; the proxy is held ' +
            'to the MoA count): the count is capped at (limit - 1,000 - ' +
            'idle keepalive connections) / fds.', '');
    }
    // by contender (the counts differ: moa-n is not capped like the rest)
    const rows = by('inflight').sort((a, b) => order(a.contender,
        b.contender));
    table(['contender', 'requests', 'fds', 'answered', 'errors',
        'RSS before MiB', 'RSS peak MiB', 'KiB per in-flight request',
        'latency p50 s', 'first error'],
        rows.map((s) => [name(s.contender), s.conc,
            s.fds_per_req === undefined ? '-' : s.fds_per_req,
            md(s.answered, 0), md(s.errors, 0),
            f(s.rss_base_kib.median / 1024, 1),
            f(s.rss_peak_kib.median / 1024, 1), md(s.kib_per_req, 1),
            md(s.lat_p50_s, 2), cause(s.contender)]));
}

// the targets, for the module and, for reference, the peers
const T = [];
const ratioCpu = (c) => {
    const s = get('cpu', c);
    return s && s.cpu_us && proxyCpu ? s.cpu_us.median /
        (s.calls * proxyCpu.median) : null;
};
const over = (c, conc, q) => {
    const s = get('latency', c, conc);
    return s && s[q] ? s[q].median : null;
};
// one more decimal where rounding would hide which side of the line it is
const cell = (v, d, ok, unit) => {
    if (v === null || v === undefined) {
        return '-';
    }
    let t = v.toFixed(d);
    if (ok(Number(t)) !== ok(v)) {
        t = v.toFixed(d + 1);
    }
    return `${t}${unit || ''} ${ok(v) ? '(met)' : '(missed)'}`;
};
T.push(['CPU per MoA request / (5 x proxy CPU per request)', '<= 1.3',
    ...['moa', 'njs', 'node'].map((c) => cell(ratioCpu(c), 2,
        (v) => v <= 1.3))]);
const vsModule = (c) => {
    const s = get('cpu', c);
    return s && s.cpu_us && moaCpu ? s.cpu_us.median / moaCpu.median : null;
};
T.push(['CPU per MoA request: njs peer / module', '>= 2x', '-',
    cell(vsModule('njs'), 1, (v) => v >= 2, 'x'), '-']);
T.push(['CPU per MoA request: Node peer / module', '>= 20x', '-', '-',
    cell(vsModule('node'), 1, (v) => v >= 20, 'x')]);
const overPx = (c, conc) => {
    const s = get('latency', c, conc), p = get('latency', 'proxy', conc);
    return s && p ? s.p50_ms.median - 3 * p.p50_ms.median : null;
};
for (const conc of [100, 1000]) {
    T.push([`p50 over 3D, ${conc} clients`, '<= 2 ms',
        ...['moa', 'njs', 'node'].map((c) => cell(over(c, conc,
            'over_p50_ms'), 1, (v) => v <= 2, ' ms'))]);
    T.push([`(p50 over 3 x proxy p50, ${conc} clients)`, '(<= 2 ms)',
        ...['moa', 'njs', 'node'].map((c) => cell(overPx(c, conc), 1,
            (v) => v <= 2, ' ms'))]);
    T.push([`p99 over 3D, ${conc} clients`, '<= 10 ms',
        ...['moa', 'njs', 'node'].map((c) => cell(over(c, conc,
            'over_p99_ms'), 1, (v) => v <= 10, ' ms'))]);
}
const inf = (c) => get('inflight', c);
const infCell = (c) => {
    const s = inf(c);
    if (!s) return '-';
    const a = s.answered.median, n = s.conc;
    return `${a} of ${n} (${a !== n ? 'missed' : n >= 5000 ? 'met'
        : s.asked > n ? 'fd cap' : 'all'})`;
};
// the module: its default configuration, and moa_proposer_n on (2
// descriptors a request instead of 4: 5,000 fit where 4 x 5,000 do not)
const infModule = [inf('moa') ? infCell('moa') : null, inf('moa-n')
    ? `moa_proposer_n on: ${infCell('moa-n')}` : null].filter(Boolean);
T.push(['in-flight MoA requests answered (asked: see table)', 'all of 5,000',
    infModule.length ? infModule.join('; ') : '-',
    ...['njs', 'node'].map(infCell)]);
T.push(['worker memory per in-flight MoA request', '<= 64 KiB',
    ...['moa', 'njs', 'node'].map((c) => cell(inf(c) && inf(c).kib_per_req ?
        inf(c).kib_per_req.median : null, 1, (v) => v <= 64, ' KiB'))]);
const st = (c) => get('stream', c);
T.push(['streamed first content byte after the provider, p50', '<= 1 ms',
    ...['moa', 'njs', 'node'].map((c) => cell(st(c) && st(c).ttfb_p50_ms ?
        st(c).ttfb_p50_ms.median : null, 2, (v) => v <= 1, ' ms'))]);
const pass = get('cpu', 'pass');
T.push(['passthrough CPU per request / proxy CPU per request', '<= 1.2',
    cell(pass && proxyCpu ? pass.cpu_us.median / proxyCpu.median : null, 2,
        (v) => v <= 1.2), '-', '-']);
out.push('### Targets of issue #7', '');
if (!summary.some((s) => ['moa', 'moa-n', 'pass'].includes(s.contender))) {
    out.push('The module was not built for this run: its column is empty ' +
        '(bench/run measures it as soon as build/ngx_http_moa_module.so ' +
        'exists). The peers are held to the same targets for reference.', '');
}
table(['target', 'threshold', 'module', 'njs peer', 'Node peer'], T);
fs.writeFileSync(path.join(dir, 'tables.md'), out.join('\n'));

// gnuplot data: one block per contender (title line, then conc p50 p99)
const dat = [];
for (const c of [...new Set(by('latency').map((s) => s.contender))]
    .sort(order)) {
    dat.push(`"${name(c)}"`);
    for (const s of by('latency').filter((x) => x.contender === c)) {
        dat.push(`${s.conc} ${s.p50_ms.median} ${s.p99_ms.median}`);
    }
    dat.push('', '');
}
fs.writeFileSync(path.join(dir, 'latency.dat'), dat.join('\n'));
console.log(`report: ${runs.length} runs -> ${dir}/tables.md, summary.json,` +
    ' summary.csv, latency.dat');
