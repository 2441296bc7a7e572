"""An aiosmtpd handler for Dialect's e-mail tests: each message received is
decoded with Python's email package (headers, body, attachments) and written
as one JSON file to the folder given, so that a test reads what a mail client
would show."""

import email
import json
import os
from email import policy


class Sink:
    def __init__(self, folder):
        self.folder = folder
        self.count = 0

    @classmethod
    def from_cli(cls, parser, *args):
        if len(args) != 1:
            parser.error("Sink takes the folder to write messages to")
        return cls(args[0])

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        body = msg.get_body(preferencelist=("plain",))
        out = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "from": str(msg["From"]),
            "to": str(msg["To"]),
            "subject": str(msg["Subject"]),
            "message_id": str(msg["Message-ID"]),
            "body": body.get_content() if body is not None else None,
            "attachments": [
                {
                    "filename": part.get_filename(),
                    "content_type": part.get_content_type(),
                    "hex": part.get_payload(decode=True).hex(),
                }
                for part in msg.iter_attachments()
            ],
        }
        self.count += 1
        path = os.path.join(self.folder, "%06d.json" % self.count)
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(out, f, ensure_ascii=False)
        os.rename(path + ".tmp", path)
        return "250 OK"
