-- Every stage of one request, by its audit ID ($audit_id).
SELECT * FROM events WHERE audit_id = '$audit_id'
