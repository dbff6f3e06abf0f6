"""Retrieval training kinds, a module each: ``m2v-tokenlearn`` and ``m2v-contrastive`` (static), ``peft-contrastive``
(adapters), ``kd-student`` (kd); what they share in ``base``. Each trains on the run's device (backend.device: CPU
by default here), saves its model under the run, stores its loss per step (``losses.json``) and is evaluated like
any model.

torch / transformers / peft / model2vec / tokenlearn are imported inside the functions that need them.
"""
