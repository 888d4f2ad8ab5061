// A Responses provider for t/153: answers any request with a response
// object that quotes the request's body as it arrived (the byte-for-byte
// passthrough of moa_responses_pass is checked on it), or a stream of two
// events when the body asks for one.

function echo(r) {
    var body = r.requestText || '';
    var stream = false;

    try {
        stream = JSON.parse(body).stream === true;
    } catch (e) {
        stream = false;
    }

    r.warn('responses-echo: body=' + body);

    if (stream) {
        r.headersOut['Content-Type'] = 'text/event-stream';
        r.return(200, 'event: response.created\ndata: {"type":'
                      + '"response.created","sequence_number":0}\n\n'
                      + 'event: response.completed\ndata: {"type":'
                      + '"response.completed","sequence_number":1}\n\n');
        return;
    }

    r.headersOut['Content-Type'] = 'application/json';
    r.headersOut['X-Responses-Provider'] = 'yes';
    r.return(200, JSON.stringify({id: 'resp_provider', object: 'response',
                                  status: 'completed', got: body}));
}

export default {echo};
