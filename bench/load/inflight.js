#!/usr/bin/env node
// Holds many requests in flight at once: opens N connections, sends one
// request on each, waits for every answer. Meanwhile samples the RSS of the
// given pids (the subject's worker) every 100 ms.
//
//   inflight.js URL MODEL PROMPTS N TIMEOUT_S PIDS(comma-separated)
// Prints one JSON line (prefix "INFLIGHTJSON "): answered (200 + a
// chat.completion), errors, latency p50/p99 (us), RSS baseline/peak (KiB).
'use strict';
const http = require('node:http');
const fs = require('node:fs');

const [url, model, promptsFile, nArg, timeoutArg, pidsArg] =
    process.argv.slice(2);
const N = Number(nArg);
const pids = (pidsArg || '').split(',').filter(Boolean);
const prompts = fs.readFileSync(promptsFile, 'utf8').split('\n')
    .filter(Boolean);

function rss() {
    let kb = 0;
    for (const p of pids) {
        const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${p}/status`,
            'utf8'));
        kb += m ? Number(m[1]) : 0;
    }
    return kb;
}

const base = rss();
let peak = base, inflightPeak = 0, inflight = 0, ticks = 0;
const timeline = [];    // RSS each second: which stage of the chain peaks
const sampler = setInterval(() => {
    const v = rss();
    if (v > peak) peak = v;
    if (++ticks % 10 === 0) timeline.push(v);
}, 100);

const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const lat = [];
let done = 0, ok = 0, errors = 0, connected = 0;
const statuses = {};
const samples = [];
const sample = (what) => { if (samples.length < 3) samples.push(what); };
const t0 = process.hrtime.bigint();
const deadline = setTimeout(() => report('timeout'), Number(timeoutArg) * 1000);

function report(why) {
    clearInterval(sampler);
    clearTimeout(deadline);
    lat.sort((a, b) => a - b);
    const p = (q) => (lat.length ? Math.round(lat[Math.min(lat.length - 1,
        Math.floor(q / 100 * lat.length))]) : null);
    console.log('INFLIGHTJSON ' + JSON.stringify({ why, requests: N,
        answered: ok, errors, unanswered: N - done, connected,
        max_inflight_seen: inflightPeak,
        duration_us: Number(process.hrtime.bigint() - t0) / 1000,
        lat_p50: p(50), lat_p99: p(99), lat_max: lat.length ?
            Math.round(lat[lat.length - 1]) : null,
        rss_base_kib: base, rss_peak_kib: peak, rss_timeline_kib: timeline,
        statuses,
        error_samples: samples }));
    process.exit(0);
}

for (let i = 0; i < N; i++) {
    const body = `{"model":"${model}","messages":${prompts[i %
        prompts.length]}}`;
    const start = process.hrtime.bigint();
    const req = http.request(url, { method: 'POST', agent,
        headers: { 'Content-Type': 'application/json',
            'Content-Length': Buffer.byteLength(body) } }, (res) => {
        const parts = [];
        res.on('data', (d) => parts.push(d));
        res.on('end', () => {
            let good = false;
            try {
                good = res.statusCode === 200 && JSON.parse(
                    Buffer.concat(parts).toString('utf8')).object ===
                    'chat.completion';
            } catch (e) { good = false; }
            statuses[res.statusCode] = (statuses[res.statusCode] || 0) + 1;
            if (!good) {
                sample(`${res.statusCode} ` +
                    Buffer.concat(parts).toString('utf8').slice(0, 200));
            }
            if (good) {
                ok++;
                lat.push(Number(process.hrtime.bigint() - start) / 1000);
            } else {
                errors++;
            }
            end();
        });
    });
    req.on('socket', (s) => s.on('connect', () => {
        connected++;
        inflight++;
        if (inflight > inflightPeak) inflightPeak = inflight;
    }));
    req.on('error', (e) => { sample(String(e.message)); errors++; end(); });
    req.end(body);
}

function end() {
    inflight--;
    done++;
    if (done === N) report('all done');
}
