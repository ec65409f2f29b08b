"""Splits a stored e-mail into its parts with Python's own MIME parser, for
the Rust tests: prints JSON with the plain-text body and, for every
attachment, its file name, content type and the path it was written to."""

import email
import email.policy
import json
import pathlib
import sys

message = email.message_from_bytes(pathlib.Path(sys.argv[1]).read_bytes(), policy=email.policy.default)
out = pathlib.Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
attachments = []
for index, part in enumerate(message.iter_attachments()):
    path = out / f"{index}-{part.get_filename()}"
    path.write_bytes(part.get_content())
    attachments.append({"filename": part.get_filename(), "content_type": part.get_content_type(), "path": str(path)})
body = message.get_body(preferencelist=("plain",))
print(json.dumps({"text": body.get_content() if body else "", "attachments": attachments}))
