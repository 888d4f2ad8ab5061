// $openai_key for conf/demo.conf: the key from the environment of
// `make run` (kept for the worker by "env OPENAI_API_KEY;").
function openai_key(r) {
    return process.env.OPENAI_API_KEY || '';
}

export default { openai_key };
