// Shared set-up of the SDK tests.  t/070-sdk.t starts nginx and passes its
// address in MOA_SDK_BASE; each scenario of the mock has its own path
// prefix, so a client's baseURL selects it: <base>/<scenario>/v1.
// MOA_SDK_PACKAGE names the SDK under test: one of the npm aliases of
// package.json ("openai-oldest", "openai-current"), each an "openai".

export const BASE = process.env.MOA_SDK_BASE;
export const PACKAGE = process.env.MOA_SDK_PACKAGE;

if (!BASE || !PACKAGE) {
    throw new Error('MOA_SDK_BASE or MOA_SDK_PACKAGE is not set: run these '
                    + 'tests through t/070-sdk.t (prove t/070-sdk.t, or '
                    + 'make test)');
}

export const { default: OpenAI } = await import(PACKAGE);
export const { VERSION: SDK_VERSION } = await import(`${PACKAGE}/version`);

// no retries (the 429 test must see the first answer), short timeouts:
// a hang fails the test instead of the run
export function client(scenario, options = {}) {
    return new OpenAI({
        baseURL: `${BASE}/${scenario}/v1`,
        apiKey: 'sk-test-unused',
        maxRetries: 0,
        timeout: 10000,
        ...options,
    });
}

// every test's own bound (node --test's default is none)
export const T = { timeout: 20000 };

export const MOA = 'moa-gpt-4o-v1';

export const QUESTION = [{ role: 'user', content: 'Why is the sky blue?' }];

// what t/070-sdk.t's scenarios make the mock answer
export const ANSWER = 'The sky is blue because of Rayleigh scattering.';

// 3 proposals, the critique and the synthesis: 1+10+100+1000+10000 prompt
// and twice that completion tokens
export const MOA_USAGE = {
    prompt_tokens: 11111,
    completion_tokens: 22222,
    total_tokens: 33333,
};

export function usageOf(u) {
    return u == null ? u : {
        prompt_tokens: u.prompt_tokens,
        completion_tokens: u.completion_tokens,
        total_tokens: u.total_tokens,
    };
}

// Iterate an SDK stream to its end: the chunks, and the error it threw (or
// null).  A stream still open after ms is aborted (the SDK's timeout ends
// with the response headers) and counts as an error: a hang fails the test
// and leaves no socket open behind it.
export async function drain(stream, ms = 10000) {
    const chunks = [];
    let timedOut = false;
    const timer = setTimeout(() => {
        timedOut = true;
        stream.controller.abort();
    }, ms);
    try {
        for await (const chunk of stream) {
            chunks.push(chunk);
        }
    } catch (error) {
        return { chunks, error: timedOut ? hung(ms) : error };
    } finally {
        clearTimeout(timer);
    }
    return { chunks, error: timedOut ? hung(ms) : null };
}

// the same for the SDK's helper, chat.completions.stream()
export async function finalOf(runner, ms = 10000) {
    let timedOut = false;
    const timer = setTimeout(() => {
        timedOut = true;
        runner.abort();
    }, ms);
    try {
        return await runner.finalChatCompletion();
    } catch (error) {
        throw timedOut ? hung(ms) : error;
    } finally {
        clearTimeout(timer);
    }
}

function hung(ms) {
    return new Error(`the stream was not done after ${ms} ms (hangs?)`);
}

export function contentOf(chunks, index = 0) {
    let text = '';
    for (const c of chunks) {
        for (const choice of c.choices) {
            if (choice.index === index) {
                text += choice.delta?.content ?? '';
            }
        }
    }
    return text;
}

// The Responses API tests run twice: against the module, and against the
// reference, conf/mock-responses.js answering straight as OpenAI would
// (<base>/<scenario>/ref/v1, its stage set to the synthesis): a test that
// fails against the reference is a bug of the test.  usage: what the
// "ok" and "tools" scenarios make a response's usage (the module sums the
// five calls of the chain, the reference is the synthesis alone).
export const TARGETS = [
    {
        name: 'module',
        path: '',
        usage: { input_tokens: 11111, output_tokens: 22222,
                 total_tokens: 33333 },
    },
    {
        name: 'reference',
        path: '/ref',
        usage: { input_tokens: 10000, output_tokens: 20000,
                 total_tokens: 30000 },
    },
];

export function responsesUsageOf(u) {
    return u == null ? u : {
        input_tokens: u.input_tokens,
        output_tokens: u.output_tokens,
        total_tokens: u.total_tokens,
    };
}
