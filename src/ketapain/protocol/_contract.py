"""The data contract of a protocol: what its trial data must hold (issue 18).

Everything a trial folder is checked against comes from the protocol: the arm codes and the
number of periods, the diary items and their scale, the visit names and the questionnaires
each visit lists, and the item keys of those instruments (from the instrument registry, as
``ketapain instruments NAME`` prints them). Nothing of the reference study is assumed.
"""

from __future__ import annotations

from types import MappingProxyType

from ketapain.data import DataContract
from ketapain.instruments import get_instrument
from ketapain.protocol._models import Protocol

__all__ = ["data_contract"]


def data_contract(protocol: Protocol) -> DataContract:
    """The :class:`~ketapain.data.DataContract` of ``protocol``, for :func:`ketapain.data.check_trial`.

    Examples
    --------
    >>> from ketapain.protocol import load_protocol
    >>> c = data_contract(load_protocol("ab_ba_example"))
    >>> c.treatments, c.periods, c.diary_items, list(c.visits)
    (('L', 'P'), 2, ('avg_pain',), ['inclusion', 'end_period_1', 'end_period_2'])
    >>> c.instrument_items["pgic"]
    ('1',)
    """
    visits = {v.name: tuple(v.questionnaires) for v in protocol.visits}
    names = dict.fromkeys(i for listed in visits.values() for i in listed)
    items = {name: tuple(it.key for it in get_instrument(name).items) for name in names}
    return DataContract(
        study=protocol.study.id,
        treatments=protocol.arm_codes,
        periods=protocol.design.periods,
        diary_items=tuple(protocol.diary.items),
        scale_min=float(protocol.diary.scale_min),
        scale_max=float(protocol.diary.scale_max),
        days_per_period=protocol.diary.days_per_period,
        visits=MappingProxyType(visits),
        instrument_items=MappingProxyType(items),
        auc_anchor=protocol.auc.time_axis == "infusion",
    )
