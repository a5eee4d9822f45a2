"""The Gemma chat template: Gemma's documented turn format, no system role (a system message joins the first
user turn), assistant spelled ``model``; and the rest of the data path (prompt masking) works with it."""

from __future__ import annotations

import pytest
from jinja2.exceptions import TemplateError

from plot_lightning.data.tokenize import IGNORE_INDEX, ChatEncoder
from plot_lightning.models.chat_templates import CHAT_TEMPLATES, GEMMA, chat_template
from plot_lightning.models.tiny import tiny_tokenizer


@pytest.fixture
def tokenizer():
    tokenizer = tiny_tokenizer()
    tokenizer.chat_template = GEMMA
    return tokenizer


def _render(tokenizer, messages, **kwargs) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, **kwargs)


def test_turns_follow_gemma_format(tokenizer) -> None:
    messages = [
        {"role": "user", "content": "Hi "},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "Sum?"},
    ]
    bos = tokenizer.bos_token
    assert _render(tokenizer, messages, add_generation_prompt=True) == (
        f"{bos}<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nHello.<end_of_turn>\n"
        "<start_of_turn>user\nSum?<end_of_turn>\n<start_of_turn>model\n"
    )


def test_system_message_is_prepended_to_the_first_user_turn(tokenizer) -> None:
    with_system = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert _render(tokenizer, with_system) == (
        f"{tokenizer.bos_token}<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n"
    )
    assert "system" not in _render(tokenizer, with_system)


@pytest.mark.parametrize(
    "roles", [["assistant", "user"], ["user", "user"], ["system", "assistant"], ["user", "system"]]
)
def test_roles_out_of_order_are_refused(tokenizer, roles) -> None:
    with pytest.raises(TemplateError, match="Gemma conversations alternate"):
        _render(tokenizer, [{"role": role, "content": "x"} for role in roles])


def test_training_encoding_masks_exactly_the_prompt(tokenizer) -> None:
    """A system + user prompt: labels are -100 up to and including ``<start_of_turn>model\\n``, then the response."""
    prompt = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    encoded = ChatEncoder(tokenizer, max_length=256).encode(prompt, "Hello there", "chosen")
    prompt_ids = tokenizer(_render(tokenizer, prompt, add_generation_prompt=True), add_special_tokens=False)
    n_prompt = len(prompt_ids["input_ids"])
    assert encoded["input_ids"][:n_prompt] == prompt_ids["input_ids"]
    assert encoded["labels"][:n_prompt] == [IGNORE_INDEX] * n_prompt
    response = tokenizer.decode(encoded["input_ids"][n_prompt:])
    assert response.replace(" ", "") == "Hellothere<end_of_turn>\n".replace(" ", "")


def test_named_or_file_or_unknown(tmp_path) -> None:
    assert chat_template("gemma") is CHAT_TEMPLATES["gemma"] and chat_template(None) is None
    custom = tmp_path / "t.jinja"
    custom.write_text("{{ messages }}")
    assert chat_template(str(custom)) == "{{ messages }}"
    with pytest.raises(FileNotFoundError, match="neither a known name \\(gemma\\) nor a file"):
        chat_template("no-such-template")
