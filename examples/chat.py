"""A streamed "chat" answer: the tokens reach the client as the handler yields them.

From this folder: `fastric-rie --function-url-address 127.0.0.1:9000 --invoke-mode RESPONSE_STREAM
python -m fastric chat.handler`, then `curl -N 'http://127.0.0.1:9000/chat?q=hello'`.
"""

import time

import fastric

WORDS = "Streaming lets a Python handler send its answer while it is still being written.".split()


@fastric.response_stream
def handler(event, context):
    """A Function URL answer (status, headers), then one word every 0.2 s."""
    question = (event.get("queryStringParameters") or {}).get("q", "")

    def tokens():
        yield f"you asked: {question}\n"
        for word in WORDS:
            time.sleep(0.2)  # stands for a model producing the next token
            yield word + " "
        yield "\n"

    return fastric.HttpResponseStream(tokens(), headers={"Content-Type": "text/plain; charset=utf-8"})
