"""ChatEncoder: one chat template pass, prompt masked, truncation rules, no doubled BOS/EOS."""

import pytest
from tokenizers import Tokenizer, processors
from transformers import PreTrainedTokenizerFast

from plot_lightning.data.errors import RowProblem
from plot_lightning.data.tokenize import IGNORE_INDEX, ChatEncoder

PROMPT = [{"role": "user", "content": "Please write a short poem."}]
RESPONSE = "The sea, the sky and the wind."


def _response_ids(tokenizer, response=RESPONSE):
    """Oracle: the assistant turn as ChatML renders it, tokenised on its own."""
    return tokenizer(f"{response}<|im_end|>\n", add_special_tokens=False)["input_ids"]


def test_template_applied_once_and_prompt_masked(tiny_tokenizer):
    encoded = ChatEncoder(tiny_tokenizer, max_length=512).encode(PROMPT, RESPONSE, "chosen")
    ids, labels = encoded["input_ids"], encoded["labels"]
    # ChatML: one <|im_start|> (the BOS) and one <|im_end|> (the EOS) per message, user + assistant.
    assert ids.count(tiny_tokenizer.bos_token_id) == 2
    assert ids.count(tiny_tokenizer.eos_token_id) == 2
    assert tiny_tokenizer.decode(ids) == tiny_tokenizer.apply_chat_template(
        [*PROMPT, {"role": "assistant", "content": RESPONSE}], tokenize=False
    )
    response = [label for label in labels if label != IGNORE_INDEX]
    assert response == _response_ids(tiny_tokenizer)
    assert labels[: len(ids) - len(response)] == [IGNORE_INDEX] * (len(ids) - len(response))
    assert ids[len(ids) - len(response) :] == response


def test_prompt_left_truncated_first_then_response(tiny_tokenizer):
    long_prompt = [{"role": "user", "content": "the quick brown fox " * 30}]
    full = ChatEncoder(tiny_tokenizer, max_length=4096).encode(long_prompt, RESPONSE, "chosen")
    prompt_length = full["labels"].count(IGNORE_INDEX)
    encoder = ChatEncoder(tiny_tokenizer, max_length=30, max_prompt_length=20)
    cut = encoder.encode(long_prompt, RESPONSE, "chosen")
    assert len(cut["input_ids"]) == 30
    # Prompt: its LAST 20 tokens; response: its FIRST 10 tokens.
    assert cut["input_ids"][:20] == full["input_ids"][prompt_length - 20 : prompt_length]
    assert cut["input_ids"][20:] == full["input_ids"][prompt_length : prompt_length + 10]
    assert cut["labels"][:20] == [IGNORE_INDEX] * 20 and cut["labels"][20:] == cut["input_ids"][20:]


def test_short_prompt_keeps_whole_and_response_keeps_at_least_one_token(tiny_tokenizer):
    prompt_length = (
        ChatEncoder(tiny_tokenizer, 512).encode(PROMPT, RESPONSE, "c")["labels"].count(IGNORE_INDEX)
    )
    cut = ChatEncoder(tiny_tokenizer, max_length=prompt_length + 1).encode(PROMPT, RESPONSE, "chosen")
    assert [label for label in cut["labels"] if label != IGNORE_INDEX] == _response_ids(tiny_tokenizer)[:1]


def test_row_that_cannot_fit_is_a_problem(tiny_tokenizer):
    encoder = ChatEncoder(tiny_tokenizer, max_length=8, max_prompt_length=None)
    with pytest.raises(RowProblem, match="cannot fit") as caught:
        encoder.encode(PROMPT, RESPONSE, "chosen")
    assert caught.value.field == "prompt"


def test_length_arguments_checked(tiny_tokenizer):
    with pytest.raises(ValueError, match="max_prompt_length"):
        ChatEncoder(tiny_tokenizer, max_length=16, max_prompt_length=16)
    with pytest.raises(ValueError, match="max_length"):
        ChatEncoder(tiny_tokenizer, max_length=1)


def _bos_adding_tokenizer(tiny_tokenizer, template):
    """The tiny BPE with an extra <s> BOS that the tokenizer adds by default (like Llama tokenizers)."""
    backend = Tokenizer.from_str(tiny_tokenizer.backend_tokenizer.to_str())
    backend.add_special_tokens(["<s>"])
    bos = backend.token_to_id("<s>")
    backend.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", bos)])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<s>", eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )
    tokenizer.chat_template = template
    assert tokenizer("hi")["input_ids"][0] == bos
    return tokenizer, bos


@pytest.mark.parametrize("template_has_bos", [True, False])
def test_exactly_one_bos_whether_or_not_the_template_adds_it(tiny_tokenizer, template_has_bos):
    template = ("{{ bos_token }}" if template_has_bos else "") + tiny_tokenizer.chat_template
    tokenizer, bos = _bos_adding_tokenizer(tiny_tokenizer, template)
    encoded = ChatEncoder(tokenizer, max_length=512).encode(PROMPT, RESPONSE, "chosen")
    assert encoded["input_ids"].count(bos) == 1 and encoded["input_ids"][0] == bos
    assert encoded["input_ids"].count(tokenizer.eos_token_id) == 2


def test_tokenizer_without_template_gets_one_eos(tiny_tokenizer):
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tiny_tokenizer.backend_tokenizer, eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )
    encoded = ChatEncoder(tokenizer, max_length=512).encode(PROMPT, RESPONSE, "chosen")
    response = [label for label in encoded["labels"] if label != IGNORE_INDEX]
    assert tokenizer.decode(response) == RESPONSE + "<|im_end|>"
    assert encoded["input_ids"].count(tokenizer.eos_token_id) == 1


class _RecordingTokenizer:
    """The real tiny tokenizer, recording the longest text it is asked to tokenise."""

    def __init__(self, tokenizer) -> None:
        self._tokenizer, self.longest = tokenizer, 0

    def __call__(self, text, **kwargs):
        self.longest = max(self.longest, len(text))
        return self._tokenizer(text, **kwargs)

    def __getattr__(self, name):
        return getattr(self._tokenizer, name)


def test_a_huge_response_is_cut_by_characters_before_tokenising(tiny_tokenizer):
    """A 10 MB response: the tokenizer never sees more than about max_length * CHARS_PER_TOKEN characters
    of it, and the kept tokens equal those of tokenising the whole response (checked on 200 KB)."""
    from plot_lightning.data.tokenize import CHARS_PER_TOKEN, ChatEncoder

    prompt = [{"role": "user", "content": "Write a lot."}]
    recording = _RecordingTokenizer(tiny_tokenizer)
    huge = "The sea, the sky and the wind. " * (10_000_000 // 31)
    encoded = ChatEncoder(recording, max_length=64, max_prompt_length=32).encode(prompt, huge, "chosen")
    assert len(encoded["input_ids"]) == 64
    assert recording.longest < 64 * CHARS_PER_TOKEN + 1000  # the rendered prompt and template around it
    whole = huge[:200_000]
    plain = ChatEncoder(tiny_tokenizer, max_length=64, max_prompt_length=32)
    assert plain._encode(prompt, whole, "chosen")[0] == encoded


def test_a_cut_too_close_to_the_kept_tokens_is_redone_longer(tiny_tokenizer, monkeypatch):
    """With a first cut of 1 character per token (far too short for this text), the cut is widened 4x
    at a time until SPARE_TOKENS tokens past max_length are dropped: the result equals the whole response's."""
    from plot_lightning.data import tokenize

    monkeypatch.setattr(tokenize, "CHARS_PER_TOKEN", 1)
    prompt = [{"role": "user", "content": "Spaces?"}]
    response = "The sea, the sky and the wind. " * 400
    recording = _RecordingTokenizer(tiny_tokenizer)
    encoder = tokenize.ChatEncoder(recording, max_length=48, max_prompt_length=16)
    encoded = encoder.encode(prompt, response, "chosen")
    assert 48 * 4 < recording.longest < len(response)  # widened at least once, never the whole text
    assert encoded == encoder._encode(prompt, response, "chosen")[0]
