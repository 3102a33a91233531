"""The embedded NLU: language identification, intents, entities, in Rasa's parse shape.

``nlu.service.load_nlu(settings)`` gives the object the engine calls
(``await nlu.parse(text, language_hint)``); ``intake nlu validate|train|parse|eval`` are
the commands (``nlu/cli.py``). See ``nlu/README.md``.
"""
