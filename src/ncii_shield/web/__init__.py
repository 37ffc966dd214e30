"""Server-rendered pages for people (victim intake), with their static files. Thin, like api/."""
