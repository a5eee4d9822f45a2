"""``plot-lightning prepare-model``: a known packaged GGUF by name, or any GGUF file, into a cached folder.

    prepare_model("gemma-3-270m")                                  # known: located, SHA256-checked, templated
    prepare_model("model.gguf", sha256="ab12...", chat_template="gemma")   # any GGUF file

A GGUF path is converted into ``$PLOT_MODEL_CACHE/<file stem>``; with ``sha256`` the file is refused unless it
matches, without it the digest read is printed and recorded in the folder's ``gguf_source.json``.
"""

from __future__ import annotations

from pathlib import Path

from plot_lightning.models import gguf
from plot_lightning.models.chat_templates import chat_template as template_named
from plot_lightning.models.known_gguf import KNOWN_GGUFS


def known_folder(name: str, *, cache_dir: Path | None = None, force: bool = False) -> Path:
    """The converted folder of the known GGUF ``name`` (see ``KNOWN_GGUFS``), converting it on first use."""
    known = KNOWN_GGUFS[name.lower()]
    folder = (cache_dir or gguf.model_cache_dir()) / known.folder_name
    if force or not gguf.is_valid_folder(folder):
        gguf.convert(
            known.locate(),
            folder,
            sha256=known.sha256,
            chat_template=known.chat_template,
            stop_tokens=known.stop_tokens,
        )
    return folder


def _gguf_file_folder(path: Path, *, sha256: str | None, chat_template: str | None, force: bool) -> Path:
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no such GGUF file (give a .gguf path or one of: {', '.join(KNOWN_GGUFS)})"
        )
    folder = gguf.model_cache_dir() / path.stem
    template = template_named(chat_template)
    return gguf.cached_folder(path, folder, sha256=sha256, chat_template=template, force=force)


def prepare_model(
    source: str = "smollm2-135m-instruct",
    *,
    sha256: str | None = None,
    chat_template: str | None = None,
    force: bool = False,
) -> Path:
    """Convert ``source`` (a known name or a GGUF path) if needed, check the folder loads, return its path.

    ``sha256`` and ``chat_template`` (a name in ``CHAT_TEMPLATES`` or a Jinja file) apply to a GGUF path; a
    known name carries its own.
    """
    if source.lower() in KNOWN_GGUFS:
        if sha256 is not None or chat_template is not None:
            raise ValueError(f"{source!r} is a known model with its own checksum and chat template")

        def build(force_it: bool) -> Path:
            return known_folder(source, force=force_it)
    else:

        def build(force_it: bool) -> Path:
            return _gguf_file_folder(
                Path(source).expanduser(), sha256=sha256, chat_template=chat_template, force=force_it
            )

    return gguf.prepare_folder(build(force), lambda: build(True))
