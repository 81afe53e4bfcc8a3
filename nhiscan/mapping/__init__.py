"""Finding -> NHI identity; NHI kind -> ISO/IEC 27001:2022 Annex A controls, CWE, OWASP NHI."""
