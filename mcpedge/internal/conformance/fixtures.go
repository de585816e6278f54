package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"dokkumcp.dev/platform/auth"
)

// The names, arguments and results below are the ones the suite's server
// scenarios call and check, as written in its reference server
// (examples/servers/typescript/everything-server.ts of
// github.com/modelcontextprotocol/conformance at v0.1.13).

// A 1x1 red PNG and a minimal WAV file, base64-encoded.
const (
	testImage = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
	testAudio = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="
)

// jsonSchema2020 is the input schema of json_schema_2020_12_tool. The suite
// checks that $schema, $defs and additionalProperties reach the client.
const jsonSchema2020 = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "$defs": {
    "address": {"type": "object", "properties": {"street": {"type": "string"}, "city": {"type": "string"}}}
  },
  "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
  "additionalProperties": false
}`

// notificationPause spaces the notifications of the logging and progress
// tools, as the reference server does, so they arrive as separate events.
const notificationPause = 50 * time.Millisecond

// NewFixtureServer returns an MCP server with the suite's fixtures and the
// validation options of mcpedge's production server. Its tool filter, like
// production's, shows tools only to a caller with a principal, so a fixture
// call fails when the guard's principal does not reach the handlers.
func NewFixtureServer() *mcpserver.MCPServer {
	s := mcpserver.NewMCPServer("dokkumcp-conformance", "1.0.0",
		mcpserver.WithToolCapabilities(false),
		mcpserver.WithResourceCapabilities(true, false),
		mcpserver.WithPromptCapabilities(false),
		mcpserver.WithCompletions(),
		mcpserver.WithLogging(),
		mcpserver.WithElicitation(),
		mcpserver.WithInputSchemaValidation(),
		mcpserver.WithStrictInputSchemaDefault(),
		mcpserver.WithOutputSchemaValidation(),
		mcpserver.WithRecovery(),
		mcpserver.WithHooks(&mcpserver.Hooks{}),
		mcpserver.WithToolFilter(requirePrincipal),
	)
	s.EnableSampling()
	addContentTools(s)
	addNotificationTools(s)
	addClientRequestTools(s)
	addResources(s)
	addPrompts(s)
	return s
}

func requirePrincipal(ctx context.Context, tools []mcp.Tool) []mcp.Tool {
	if _, ok := auth.PrincipalFrom(ctx); !ok {
		return nil
	}
	return tools
}

// addContentTools registers the tools that return each kind of content.
func addContentTools(s *mcpserver.MCPServer) {
	s.AddTool(mcp.NewTool("test_simple_text", mcp.WithDescription("Tests simple text content response")),
		func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultText("This is a simple text response for testing."), nil
		})
	s.AddTool(mcp.NewTool("test_image_content", mcp.WithDescription("Tests image content response")),
		func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{mcp.NewImageContent(testImage, "image/png")}}, nil
		})
	s.AddTool(mcp.NewTool("test_audio_content", mcp.WithDescription("Tests audio content response")),
		func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{mcp.NewAudioContent(testAudio, "audio/wav")}}, nil
		})
	s.AddTool(mcp.NewTool("test_embedded_resource", mcp.WithDescription("Tests embedded resource content response")),
		func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{mcp.NewEmbeddedResource(mcp.TextResourceContents{
				URI: "test://embedded-resource", MIMEType: "text/plain", Text: "This is an embedded resource content.",
			})}}, nil
		})
	s.AddTool(mcp.NewTool("test_multiple_content_types", mcp.WithDescription("Tests response with multiple content types (text, image, resource)")),
		func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{
				mcp.NewTextContent("Multiple content types test:"),
				mcp.NewImageContent(testImage, "image/png"),
				mcp.NewEmbeddedResource(mcp.TextResourceContents{
					URI: "test://mixed-content-resource", MIMEType: "application/json", Text: `{"test":"data","value":123}`,
				}),
			}}, nil
		})
	s.AddTool(mcp.NewTool("test_error_handling", mcp.WithDescription("Tests error response handling")),
		func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultError("This tool intentionally returns an error for testing"), nil
		})
	s.AddTool(mcp.NewToolWithRawSchema("json_schema_2020_12_tool",
		"Tool with JSON Schema 2020-12 features for conformance testing (SEP-1613)", json.RawMessage(jsonSchema2020)),
		func(_ context.Context, request mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			args, err := json.Marshal(request.GetArguments())
			if err != nil {
				return nil, err
			}
			return mcp.NewToolResultText("JSON Schema 2020-12 tool called with: " + string(args)), nil
		})
}

// addNotificationTools registers the tools that send logging and progress
// notifications before their result, which the transport streams as SSE
// events on the POST response.
func addNotificationTools(s *mcpserver.MCPServer) {
	s.AddTool(mcp.NewTool("test_tool_with_logging", mcp.WithDescription("Tests tool that emits log messages during execution")),
		func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			for i, message := range []string{"Tool execution started", "Tool processing data", "Tool execution completed"} {
				if i > 0 {
					time.Sleep(notificationPause)
				}
				err := s.SendNotificationToClient(ctx, string(mcp.MethodNotificationMessage), map[string]any{
					"level": "info", "logger": "conformance-test-server", "data": message,
				})
				if err != nil {
					return nil, err
				}
			}
			return mcp.NewToolResultText("Tool with logging executed successfully"), nil
		})

	s.AddTool(mcp.NewTool("test_tool_with_progress", mcp.WithDescription("Tests tool that reports progress notifications")),
		func(ctx context.Context, request mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			var token mcp.ProgressToken
			if request.Params.Meta != nil {
				token = request.Params.Meta.ProgressToken
			}
			if token == nil {
				return mcp.NewToolResultText("no progress token"), nil
			}
			for i, progress := range []int{0, 50, 100} {
				if i > 0 {
					time.Sleep(notificationPause)
				}
				err := s.SendNotificationToClient(ctx, string(mcp.MethodNotificationProgress), map[string]any{
					"progressToken": token, "progress": progress, "total": 100,
					"message": fmt.Sprintf("Completed step %d of 100", progress),
				})
				if err != nil {
					return nil, err
				}
			}
			return mcp.NewToolResultText(fmt.Sprint(token)), nil
		})

	// The pending server-sse-polling scenario calls test_reconnection. The
	// reference server closes its SSE stream mid-call; a stateless server has
	// no stream to resume, so this one just answers.
	s.AddTool(mcp.NewTool("test_reconnection", mcp.WithDescription("Tests SSE stream disconnection and client reconnection (SEP-1699)")),
		func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultText("Reconnection test completed successfully."), nil
		})
}

// addClientRequestTools registers the tools that send the client a sampling
// or elicitation request and return its answer.
func addClientRequestTools(s *mcpserver.MCPServer) {
	s.AddTool(mcp.NewTool("test_sampling", mcp.WithDescription("Tests server-initiated sampling (LLM completion request)"),
		mcp.WithString("prompt", mcp.Required(), mcp.Description("The prompt to send to the LLM"))),
		func(ctx context.Context, request mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if err := requireSession(ctx); err != nil {
				return mcp.NewToolResultError(err.Error()), nil
			}
			result, err := s.RequestSampling(ctx, mcp.CreateMessageRequest{
				Request: mcp.Request{Method: string(mcp.MethodSamplingCreateMessage)},
				CreateMessageParams: mcp.CreateMessageParams{
					Messages:  []mcp.SamplingMessage{{Role: mcp.RoleUser, Content: mcp.NewTextContent(request.GetString("prompt", ""))}},
					MaxTokens: 100,
				},
			})
			if err != nil {
				return mcp.NewToolResultError("sampling failed: " + err.Error()), nil
			}
			text := "No response"
			if content, ok := result.Content.(mcp.TextContent); ok {
				text = content.Text
			}
			return mcp.NewToolResultText("LLM response: " + text), nil
		})

	s.AddTool(mcp.NewTool("test_elicitation", mcp.WithDescription("Tests server-initiated elicitation (user input request)"),
		mcp.WithString("message", mcp.Required(), mcp.Description("The message to show the user"))),
		elicit(s, func(request mcp.CallToolRequest) (string, map[string]any) {
			return request.GetString("message", ""), map[string]any{
				"type": "object",
				"properties": map[string]any{
					"username": map[string]any{"type": "string", "description": "User's response"},
					"email":    map[string]any{"type": "string", "description": "User's email address"},
				},
				"required": []string{"username", "email"},
			}
		}))

	s.AddTool(mcp.NewTool("test_elicitation_sep1034_defaults", mcp.WithDescription("Tests elicitation with default values per SEP-1034")),
		elicit(s, func(mcp.CallToolRequest) (string, map[string]any) {
			return "Please review and update the form fields with defaults", map[string]any{
				"type": "object",
				"properties": map[string]any{
					"name":     map[string]any{"type": "string", "description": "User name", "default": "John Doe"},
					"age":      map[string]any{"type": "integer", "description": "User age", "default": 30},
					"score":    map[string]any{"type": "number", "description": "User score", "default": 95.5},
					"status":   map[string]any{"type": "string", "description": "User status", "enum": []string{"active", "inactive", "pending"}, "default": "active"},
					"verified": map[string]any{"type": "boolean", "description": "Verification status", "default": true},
				},
				"required": []string{},
			}
		}))

	s.AddTool(mcp.NewTool("test_elicitation_sep1330_enums", mcp.WithDescription("Tests elicitation with enum schema improvements per SEP-1330")),
		elicit(s, func(mcp.CallToolRequest) (string, map[string]any) {
			titled := []any{
				map[string]any{"const": "value1", "title": "First Option"},
				map[string]any{"const": "value2", "title": "Second Option"},
				map[string]any{"const": "value3", "title": "Third Option"},
			}
			return "Please select options from the enum fields", map[string]any{
				"type": "object",
				"properties": map[string]any{
					"untitledSingle": map[string]any{"type": "string", "description": "Select one option", "enum": []string{"option1", "option2", "option3"}},
					"titledSingle":   map[string]any{"type": "string", "description": "Select one option with titles", "oneOf": titled},
					"legacyEnum": map[string]any{"type": "string", "description": "Select one option (legacy)",
						"enum": []string{"opt1", "opt2", "opt3"}, "enumNames": []string{"Option One", "Option Two", "Option Three"}},
					"untitledMulti": map[string]any{"type": "array", "description": "Select multiple options", "minItems": 1, "maxItems": 3,
						"items": map[string]any{"type": "string", "enum": []string{"option1", "option2", "option3"}}},
					"titledMulti": map[string]any{"type": "array", "description": "Select multiple options with titles", "minItems": 1, "maxItems": 3,
						"items": map[string]any{"anyOf": titled}},
				},
				"required": []string{},
			}
		}))
}

// requireSession fails when the call has no MCP session. mcp-go v1.6.0
// writes a sampling or elicitation request to the POST's SSE stream, but the
// client answers with a new POST that mcp-go routes by Mcp-Session-Id, and a
// stateless server issues no session id. That answer is rejected with 400,
// so without this check the tool would wait for the client's timeout
// (60 seconds in the suite) before failing.
func requireSession(ctx context.Context) error {
	if session := mcpserver.ClientSessionFromContext(ctx); session == nil || session.SessionID() == "" {
		return errors.New("server-to-client requests need an MCP session, and this server is stateless: the client's response could not reach it")
	}
	return nil
}

// elicit returns a tool handler that sends the client the elicitation
// request built from the call and returns the client's answer as text.
func elicit(s *mcpserver.MCPServer, build func(mcp.CallToolRequest) (string, map[string]any)) mcpserver.ToolHandlerFunc {
	return func(ctx context.Context, request mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if err := requireSession(ctx); err != nil {
			return mcp.NewToolResultError(err.Error()), nil
		}
		message, schema := build(request)
		result, err := s.RequestElicitation(ctx, mcp.ElicitationRequest{
			Request: mcp.Request{Method: string(mcp.MethodElicitationCreate)},
			Params:  mcp.ElicitationParams{Message: message, RequestedSchema: schema},
		})
		if err != nil {
			return mcp.NewToolResultError("elicitation failed: " + err.Error()), nil
		}
		content, err := json.Marshal(result.Content)
		if err != nil {
			return nil, err
		}
		return mcp.NewToolResultText(fmt.Sprintf("Elicitation completed: action=%s, content=%s", result.Action, content)), nil
	}
}

func addResources(s *mcpserver.MCPServer) {
	s.AddResource(mcp.NewResource("test://static-text", "static-text",
		mcp.WithResourceTitle("Static Text Resource"), mcp.WithResourceDescription("A static text resource for testing"), mcp.WithMIMEType("text/plain")),
		func(context.Context, mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
			return []mcp.ResourceContents{mcp.TextResourceContents{URI: "test://static-text", MIMEType: "text/plain", Text: "This is the content of the static text resource."}}, nil
		})
	s.AddResource(mcp.NewResource("test://static-binary", "static-binary",
		mcp.WithResourceTitle("Static Binary Resource"), mcp.WithResourceDescription("A static binary resource (image) for testing"), mcp.WithMIMEType("image/png")),
		func(context.Context, mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
			return []mcp.ResourceContents{mcp.BlobResourceContents{URI: "test://static-binary", MIMEType: "image/png", Blob: testImage}}, nil
		})
	s.AddResource(mcp.NewResource("test://watched-resource", "watched-resource",
		mcp.WithResourceTitle("Watched Resource"), mcp.WithResourceDescription("A resource clients may subscribe to"), mcp.WithMIMEType("text/plain")),
		func(context.Context, mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
			return []mcp.ResourceContents{mcp.TextResourceContents{URI: "test://watched-resource", MIMEType: "text/plain", Text: "Watched resource content"}}, nil
		})
	s.AddResourceTemplate(mcp.NewResourceTemplate("test://template/{id}/data", "template",
		mcp.WithTemplateDescription("A resource template with parameter substitution"), mcp.WithTemplateMIMEType("application/json")),
		func(_ context.Context, request mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
			id, ok := strings.CutPrefix(request.Params.URI, "test://template/")
			if id, ok = strings.CutSuffix(id, "/data"); !ok || id == "" || strings.Contains(id, "/") {
				return nil, errors.New("resource URI does not match test://template/{id}/data")
			}
			text, err := json.Marshal(map[string]any{"id": id, "templateTest": true, "data": "Data for ID: " + id})
			if err != nil {
				return nil, err
			}
			return []mcp.ResourceContents{mcp.TextResourceContents{URI: request.Params.URI, MIMEType: "application/json", Text: string(text)}}, nil
		})
}

func addPrompts(s *mcpserver.MCPServer) {
	s.AddPrompt(mcp.NewPrompt("test_simple_prompt",
		mcp.WithPromptTitle("Simple Test Prompt"), mcp.WithPromptDescription("A simple prompt without arguments")),
		func(context.Context, mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return &mcp.GetPromptResult{Messages: []mcp.PromptMessage{
				{Role: mcp.RoleUser, Content: mcp.NewTextContent("This is a simple prompt for testing.")},
			}}, nil
		})
	s.AddPrompt(mcp.NewPrompt("test_prompt_with_arguments",
		mcp.WithPromptTitle("Prompt With Arguments"), mcp.WithPromptDescription("A prompt with required arguments"),
		mcp.WithArgument("arg1", mcp.ArgumentDescription("First test argument"), mcp.RequiredArgument()),
		mcp.WithArgument("arg2", mcp.ArgumentDescription("Second test argument"), mcp.RequiredArgument())),
		func(_ context.Context, request mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			text := fmt.Sprintf("Prompt with arguments: arg1='%s', arg2='%s'", request.Params.Arguments["arg1"], request.Params.Arguments["arg2"])
			return &mcp.GetPromptResult{Messages: []mcp.PromptMessage{{Role: mcp.RoleUser, Content: mcp.NewTextContent(text)}}}, nil
		})
	s.AddPrompt(mcp.NewPrompt("test_prompt_with_embedded_resource",
		mcp.WithPromptTitle("Prompt With Embedded Resource"), mcp.WithPromptDescription("A prompt that includes an embedded resource"),
		mcp.WithArgument("resourceUri", mcp.ArgumentDescription("URI of the resource to embed"), mcp.RequiredArgument())),
		func(_ context.Context, request mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return &mcp.GetPromptResult{Messages: []mcp.PromptMessage{
				{Role: mcp.RoleUser, Content: mcp.NewEmbeddedResource(mcp.TextResourceContents{
					URI: request.Params.Arguments["resourceUri"], MIMEType: "text/plain", Text: "Embedded resource content for testing.",
				})},
				{Role: mcp.RoleUser, Content: mcp.NewTextContent("Please process the embedded resource above.")},
			}}, nil
		})
	s.AddPrompt(mcp.NewPrompt("test_prompt_with_image",
		mcp.WithPromptTitle("Prompt With Image"), mcp.WithPromptDescription("A prompt that includes image content")),
		func(context.Context, mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return &mcp.GetPromptResult{Messages: []mcp.PromptMessage{
				{Role: mcp.RoleUser, Content: mcp.NewImageContent(testImage, "image/png")},
				{Role: mcp.RoleUser, Content: mcp.NewTextContent("Please analyze the image above.")},
			}}, nil
		})
}
