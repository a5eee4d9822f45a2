"""Chat templates for GGUF files that carry none, by name (``plot-lightning prepare-model --chat-template``).

``gemma``: written for this project from Gemma's documented turn format (``<start_of_turn>user ...
<end_of_turn>``, ``<start_of_turn>model ...``). As in Gemma 3's own template, a leading system message is
prepended to the first user turn (blank line between), roles must then alternate user/assistant, and contents
are trimmed.
"""

from __future__ import annotations

GEMMA = (
    "{{ bos_token }}"
    "{%- if messages and messages[0]['role'] == 'system' -%}"
    "{%- set first_user_prefix = messages[0]['content'] | trim + '\n\n' -%}"
    "{%- set loop_messages = messages[1:] -%}"
    "{%- else -%}"
    "{%- set first_user_prefix = '' -%}"
    "{%- set loop_messages = messages -%}"
    "{%- endif -%}"
    "{%- for message in loop_messages -%}"
    "{%- if message['role'] != ('user' if loop.index0 % 2 == 0 else 'assistant') -%}"
    "{{ raise_exception('Gemma conversations alternate user/assistant turns, starting with user "
    "(after an optional system message)') }}"
    "{%- endif -%}"
    "{%- set role = 'model' if message['role'] == 'assistant' else 'user' -%}"
    "{{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '') "
    "+ message['content'] | trim + '<end_of_turn>\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\n' }}{%- endif -%}"
)

CHAT_TEMPLATES: dict[str, str] = {"gemma": GEMMA}


def chat_template(name_or_file: str | None) -> str | None:
    """The template named ``name_or_file`` (see ``CHAT_TEMPLATES``), or the text of that Jinja file; None: none."""
    if name_or_file is None:
        return None
    if name_or_file in CHAT_TEMPLATES:
        return CHAT_TEMPLATES[name_or_file]
    from pathlib import Path

    path = Path(name_or_file).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"chat template {name_or_file!r}: neither a known name ({', '.join(CHAT_TEMPLATES)}) nor a file"
        )
    return path.read_text()
