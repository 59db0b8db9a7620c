"""The report's words in English and Khmer.

Only the report's own labels are translated; names from the data (rules, hosts, systems,
ATT&CK techniques) stay as they are.
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = ["LANGUAGES", "Language", "labels"]

Language = Literal["en", "km"]
LANGUAGES: Final[tuple[Language, ...]] = ("en", "km")

_EN: Final[dict[str, str]] = {
    "title_ministry": "Security report",
    "title_national": "National security overview",
    "period": "Period",
    "all_time": "everything in the store",
    "since": "since",
    "generated": "Generated",
    "source": "Source",
    "summary": "Summary",
    "incidents": "Incidents",
    "alerts": "Alerts",
    "open_incidents": "Open incidents",
    "by_severity_state": "Incidents by severity and state",
    "severity": "Severity",
    "state": "State",
    "total": "Total",
    "open": "open",
    "acknowledged": "acknowledged",
    "closed": "closed",
    "critical": "critical",
    "high": "high",
    "medium": "medium",
    "low": "low",
    "informational": "informational",
    "timeline": "Alerts over time",
    "bucket": "one bar per",
    "attack": "ATT&CK techniques seen",
    "attack_help": "Each cell is a technique; darker means more alerts.",
    "top_rules": "Top detection rules",
    "rule": "Rule",
    "level": "Level",
    "count": "Count",
    "hosts": "Most affected hosts",
    "host": "Host",
    "systems": "Most affected systems",
    "system": "System",
    "criticality": "Criticality",
    "silent": "Silent log sources",
    "not_tracked": "not tracked",
    "log_family": "Log family",
    "last_event": "Last event (UTC)",
    "silent_for": "Silent for",
    "none": "none",
    "ministry": "Ministry",
    "ministries": "Ministries",
    "unattributed": "not attributed to a ministry",
    "incident_list": "Incidents and their alerts",
    "first_seen": "First seen",
    "last_seen": "Last seen",
    "time": "Time (UTC)",
    "message": "Message",
    "raw_event": "Raw event",
    "not_listed": "alerts of this incident fall outside the period",
    "more_incidents": "less severe incidents are not listed",
    "truncated": "Only part of the data was read",
    "expand": "Open all",
    "collapse": "Close all",
    "entity": "Entity",
    "minutes": "minute(s)",
    "hours": "hour(s)",
    "days": "day(s)",
}

_KM: Final[dict[str, str]] = {
    "title_ministry": "របាយការណ៍សន្តិសុខ",
    "title_national": "ទិដ្ឋភាពទូទៅសន្តិសុខថ្នាក់ជាតិ",
    "period": "រយៈពេល",
    "all_time": "ទិន្នន័យទាំងអស់ក្នុងឃ្លាំង",
    "since": "ចាប់ពី",
    "generated": "បង្កើតនៅ",
    "source": "ប្រភព",
    "summary": "សេចក្តីសង្ខេប",
    "incidents": "ឧប្បត្តិហេតុ",
    "alerts": "ការជូនដំណឹង",
    "open_incidents": "ឧប្បត្តិហេតុមិនទាន់បិទ",
    "by_severity_state": "ឧប្បត្តិហេតុតាមកម្រិតធ្ងន់ធ្ងរ និងស្ថានភាព",
    "severity": "កម្រិតធ្ងន់ធ្ងរ",
    "state": "ស្ថានភាព",
    "total": "សរុប",
    "open": "បើក",
    "acknowledged": "បានទទួលស្គាល់",
    "closed": "បានបិទ",
    "critical": "ធ្ងន់ធ្ងរបំផុត",
    "high": "ខ្ពស់",
    "medium": "មធ្យម",
    "low": "ទាប",
    "informational": "ព័ត៌មាន",
    "timeline": "ការជូនដំណឹងតាមពេលវេលា",
    "bucket": "មួយរបារក្នុងមួយ",
    "attack": "បច្ចេកទេស ATT&CK ដែលបានឃើញ",
    "attack_help": "ក្រឡានីមួយៗជាបច្ចេកទេសមួយ ពណ៌កាន់តែចាស់ មានការជូនដំណឹងកាន់តែច្រើន។",
    "top_rules": "ច្បាប់រាវរកដែលរកឃើញច្រើនជាងគេ",
    "rule": "ច្បាប់",
    "level": "កម្រិត",
    "count": "ចំនួន",
    "hosts": "ម៉ាស៊ីនដែលរងផលប៉ះពាល់ច្រើនជាងគេ",
    "host": "ម៉ាស៊ីន",
    "systems": "ប្រព័ន្ធដែលរងផលប៉ះពាល់ច្រើនជាងគេ",
    "system": "ប្រព័ន្ធ",
    "criticality": "សារៈសំខាន់",
    "silent": "ប្រភពកំណត់ហេតុដែលឈប់ផ្ញើ",
    "not_tracked": "មិនទាន់តាមដាន",
    "log_family": "ប្រភេទកំណត់ហេតុ",
    "last_event": "ព្រឹត្តិការណ៍ចុងក្រោយ (UTC)",
    "silent_for": "រយៈពេលស្ងាត់",
    "none": "គ្មាន",
    "ministry": "ក្រសួង",
    "ministries": "ក្រសួង",
    "unattributed": "មិនទាន់កំណត់ក្រសួង",
    "incident_list": "ឧប្បត្តិហេតុ និងការជូនដំណឹងរបស់វា",
    "first_seen": "ឃើញដំបូង",
    "last_seen": "ឃើញចុងក្រោយ",
    "time": "ពេលវេលា (UTC)",
    "message": "សារ",
    "raw_event": "ព្រឹត្តិការណ៍ដើម",
    "not_listed": "ការជូនដំណឹងនៃឧប្បត្តិហេតុនេះនៅក្រៅរយៈពេល",
    "more_incidents": "ឧប្បត្តិហេតុដែលធ្ងន់ធ្ងរតិចជាងនេះមិនត្រូវបានរាយបញ្ជីទេ",
    "truncated": "បានអានតែផ្នែកមួយនៃទិន្នន័យ",
    "expand": "បើកទាំងអស់",
    "collapse": "បិទទាំងអស់",
    "entity": "អង្គភាព",
    "minutes": "នាទី",
    "hours": "ម៉ោង",
    "days": "ថ្ងៃ",
}


def labels(language: Language) -> dict[str, str]:
    """The labels of ``language`` (``en`` or ``km``); every key exists in both.

    Examples
    --------
    >>> labels("km")["incidents"], labels("en")["incidents"]
    ('ឧប្បត្តិហេតុ', 'Incidents')
    """
    return dict(_KM if language == "km" else _EN)
