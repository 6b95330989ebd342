//! The payload of one WAL record: the accepted events of one request (as their JSON text) and
//! the inputs it quarantined, with the cluster, source and time they arrived.

use schemas::QuarantineRow;

const FORMAT_VERSION: u8 = 1;

/// One request's worth of durable input.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Record {
    pub cluster: String,
    pub source: String,
    pub received_at: i64,
    /// Each accepted event's JSON text, as received.
    pub events: Vec<String>,
    pub quarantined: Vec<QuarantineRow>,
}

/// A record borrowed from a request being answered, encoded without copying the events twice.
pub struct RecordRef<'a> {
    pub cluster: &'a str,
    pub source: &'a str,
    pub received_at: i64,
    pub events: &'a [&'a str],
    pub quarantined: &'a [QuarantineRow],
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    // Lengths are bounded by the body limit, far below u32::MAX.
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

impl RecordRef<'_> {
    pub fn encode(&self) -> Vec<u8> {
        let size: usize = self.events.iter().map(|e| e.len() + 4).sum::<usize>()
            + self
                .quarantined
                .iter()
                .map(|q| q.raw.len() + q.reason.len() + q.location.len() + 12)
                .sum::<usize>()
            + 64;
        let mut out = Vec::with_capacity(size);
        out.push(FORMAT_VERSION);
        put_bytes(&mut out, self.cluster.as_bytes());
        put_bytes(&mut out, self.source.as_bytes());
        out.extend_from_slice(&self.received_at.to_le_bytes());
        out.extend_from_slice(&(self.events.len() as u32).to_le_bytes());
        for event in self.events {
            put_bytes(&mut out, event.as_bytes());
        }
        out.extend_from_slice(&(self.quarantined.len() as u32).to_le_bytes());
        for row in self.quarantined {
            put_bytes(&mut out, row.location.as_bytes());
            put_bytes(&mut out, row.reason.as_bytes());
            put_bytes(&mut out, row.raw.as_bytes());
        }
        out
    }
}

/// Why a payload could not be read back.
#[derive(Debug, thiserror::Error)]
#[error("malformed WAL record: {0}")]
pub struct MalformedRecord(&'static str);

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], MalformedRecord> {
        if self.0.len() < n {
            return Err(MalformedRecord("truncated"));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, MalformedRecord> {
        let bytes = self.take(4)?;
        Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn i64(&mut self) -> Result<i64, MalformedRecord> {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(self.take(8)?);
        Ok(i64::from_le_bytes(bytes))
    }

    fn string(&mut self) -> Result<String, MalformedRecord> {
        let len = self.u32()? as usize;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| MalformedRecord("text is not UTF-8"))
    }
}

impl Record {
    pub fn decode(payload: &[u8]) -> Result<Record, MalformedRecord> {
        let mut reader = Reader(payload);
        if reader.take(1)? != [FORMAT_VERSION] {
            return Err(MalformedRecord("unknown format version"));
        }
        let cluster = reader.string()?;
        let source = reader.string()?;
        let received_at = reader.i64()?;
        let event_count = reader.u32()? as usize;
        let mut events = Vec::with_capacity(event_count.min(payload.len()));
        for _ in 0..event_count {
            events.push(reader.string()?);
        }
        let quarantine_count = reader.u32()? as usize;
        let mut quarantined = Vec::with_capacity(quarantine_count.min(payload.len()));
        for _ in 0..quarantine_count {
            let location = reader.string()?;
            let reason = reader.string()?;
            let raw = reader.string()?;
            quarantined.push(QuarantineRow {
                source: source.clone(),
                received_at,
                location,
                reason,
                raw,
            });
        }
        if !reader.0.is_empty() {
            return Err(MalformedRecord("trailing bytes"));
        }
        Ok(Record {
            cluster,
            source,
            received_at,
            events,
            quarantined,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let quarantined = vec![QuarantineRow {
            source: "webhook".into(),
            received_at: 42,
            location: "item 3".into(),
            reason: "missing field `verb`".into(),
            raw: "{\"x\":1}".into(),
        }];
        let events = ["{\"auditID\":\"a\"}", "{}"];
        let encoded = RecordRef {
            cluster: "prod-eu",
            source: "webhook",
            received_at: 42,
            events: &events,
            quarantined: &quarantined,
        }
        .encode();
        let record = Record::decode(&encoded).unwrap();
        assert_eq!(record.cluster, "prod-eu");
        assert_eq!(record.events, events);
        assert_eq!(record.quarantined, quarantined);
        assert!(Record::decode(&encoded[..encoded.len() - 1]).is_err());
    }
}
