"""Reading files: one module per format, shared by the knowledge base and training sets.

The knowledge base reads a file into `Document`s with sections and honest character offsets
(`load`); training-set preparation reads a file into training `Row`s (`detect`, `read`).
Both go through the same decoding, CSV sniffing and column detection (`textio`, `sheets`),
so a file is read the same way whichever side reads it. This package depends on nothing in
`chatforge.ingest` or `chatforge.data`: they import it.
"""

from chatforge.formats.knowledge import SUPPORTED_EXTENSIONS, LoadOptions, load
from chatforge.formats.training import FORMATS, detect, read

__all__ = ["FORMATS", "SUPPORTED_EXTENSIONS", "LoadOptions", "detect", "load", "read"]
