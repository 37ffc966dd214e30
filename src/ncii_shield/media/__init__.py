"""Safe decoding of untrusted media: photos (:mod:`.decode`), videos (:mod:`.video`), and telling
them apart by their bytes (:mod:`.sniff`). Pure functions over bytes and temporary files."""
