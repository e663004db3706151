"""placeholder"""

WORD_STEPS = ()
