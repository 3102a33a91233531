"""What the scripted applicants answer, by the field each question names in expects."""

ANSWERS = {
    "consent.data_processing": "yes", "destination_country": "Georgia", "applicant.nationality": "GE",
    "admin_status": "asylum_rejected", "in_reception": "yes", "reception_centre": "Petit-Château",
    "unaccompanied_minor": "no", "household.adults": "2", "household.children": "1",
    "travel_document": "valid", "assisted_return_last_5y": "no", "health_needs": "no",
    "reintegration_interest": "2, 3", "departure_from": "15/01/2027", "applicant.name": "Nino Beridze",
    "applicant.preferred_contact": "phone", "applicant.phone": "0470 12 34 56",
    "consent.share_fedasil": "yes", "consent.share_iom": "yes", "consent.share_caritas": "no",
}
