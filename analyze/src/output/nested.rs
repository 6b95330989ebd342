//! List, map and struct columns as JSON text columns, for formats that hold only scalars.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::json::writer::{make_encoder, EncoderOptions};
use datafusion::arrow::record_batch::RecordBatch;

/// `schema` with every nested column turned into a nullable `Utf8` column of the same name.
pub fn nested_as_json_text_schema(schema: &Schema) -> SchemaRef {
    let fields: Vec<FieldRef> = schema
        .fields()
        .iter()
        .map(|field| {
            if field.data_type().is_nested() {
                Arc::new(Field::new(field.name(), DataType::Utf8, true))
            } else {
                field.clone()
            }
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// `batch` with every nested column's values as JSON text (nulls stay null).
pub fn nested_as_json_text(batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
    let schema = batch.schema();
    if !schema
        .fields()
        .iter()
        .any(|field| field.data_type().is_nested())
    {
        return Ok(batch.clone());
    }
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        if field.data_type().is_nested() {
            columns.push(json_text(field, column.as_ref())?);
        } else {
            columns.push(column.clone());
        }
    }
    RecordBatch::try_new(nested_as_json_text_schema(&schema), columns)
}

fn json_text(field: &FieldRef, column: &dyn Array) -> Result<ArrayRef, ArrowError> {
    let options = EncoderOptions::default().with_explicit_nulls(true);
    let mut encoder = make_encoder(field, column, &options)?;
    let mut texts = StringBuilder::with_capacity(column.len(), column.len() * 16);
    let mut buffer = Vec::new();
    for row in 0..column.len() {
        if encoder.is_null(row) {
            texts.append_null();
            continue;
        }
        buffer.clear();
        encoder.encode(row, &mut buffer);
        let text = std::str::from_utf8(&buffer)
            .map_err(|error| ArrowError::JsonError(format!("invalid UTF-8 in JSON: {error}")))?;
        texts.append_value(text);
    }
    Ok(Arc::new(texts.finish()))
}
