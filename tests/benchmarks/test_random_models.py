"""Random-weight models of real shapes (``benchmarks/random_models.py``): the configs match the published ones."""

from __future__ import annotations


def test_gemma3_270m_spec_has_the_published_shape():
    """Gemma 3 270M's published config: V = 262,144, d = 640, 18 layers (every sixth global, window 512),
    4 heads of 256 and 1 KV head, MLP 2,048, tied embeddings."""
    from random_models import DEFAULT_LAYERS, RANDOM_SPECS

    spec = RANDOM_SPECS["random-gemma3-270m"]
    config = spec.build_config(DEFAULT_LAYERS["random-gemma3-270m"])
    assert config.model_type == "gemma3_text" and spec.vocab_size == config.vocab_size == 262144
    assert (config.hidden_size, config.intermediate_size, config.num_hidden_layers) == (640, 2048, 18)
    assert (config.num_attention_heads, config.num_key_value_heads, config.head_dim) == (4, 1, 256)
    assert config.tie_word_embeddings and config.sliding_window == 512
    assert [i for i, kind in enumerate(config.layer_types) if kind == "full_attention"] == [5, 11, 17]


def test_smollm2_spec_has_the_published_shape():
    from random_models import RANDOM_SPECS

    config = RANDOM_SPECS["random-smollm2"].build_config(30)
    assert (config.vocab_size, config.hidden_size, config.intermediate_size) == (49152, 576, 1536)
    assert (config.num_attention_heads, config.num_key_value_heads) == (9, 3) and config.tie_word_embeddings


def test_a_folder_loads_with_its_pad_id_and_tied_embedding(tmp_path):
    import transformers
    from random_models import random_model_folder

    folder = random_model_folder("random-gemma3-tiny", tmp_path)
    model = transformers.AutoModelForCausalLM.from_pretrained(folder)
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    assert tokenizer.pad_token_id == 0 and tokenizer.eos_token_id == 1
    assert model.get_output_embeddings().weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
    assert random_model_folder("random-gemma3-tiny", tmp_path) == folder  # written once
